"""Running twice gives identical tables; the real CDNOW data goes through the whole pipeline."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from churnwatch.config import RunSettings
from churnwatch.pipeline import run_pipeline
from churnwatch.prepare_cdnow import prepare_cdnow
from tests.conftest import DATA_DIR, SHARED_CDNOW, query

# Tables that record each run (loaded_at) and so differ between runs by design.
RUN_HISTORY_TABLES = {
    ("staging", "ingest_audit"),
    ("raw", "_ingest_run"),
    ("main", "_churnwatch_build"),
}
# The feature work of one run: the (customer, snapshot) pairs it computes and their window sums,
# i.e. the snapshots customer_features lacked (none on a rerun) and the as-of date. What they
# feed (customer_features, scoring_examples) is compared.
RUN_WORK_TABLES = {
    ("intermediate", "int_feature_pairs"),
    ("intermediate", "int_customer_feature_windows"),
}


def _table_contents(db: Path) -> dict[tuple[str, str], list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        return {
            (s, t): sorted(map(repr, con.execute(f'select * from "{s}"."{t}"').fetchall()))
            for s, t in tables
            if (s, t) not in RUN_HISTORY_TABLES | RUN_WORK_TABLES
        }
    finally:
        con.close()


def test_two_runs_give_identical_tables(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    run_pipeline(DATA_DIR / "messy_shop", db, RunSettings())
    first = _table_contents(db)
    run_pipeline(DATA_DIR / "messy_shop", db, RunSettings())
    second = _table_contents(db)
    assert sorted(second) == sorted(first)
    assert [t for t in first if second[t] != first[t]] == []
    # the rerun computed no new snapshot, only the as-of date's pairs again
    assert query(
        db,
        "select count(*) from intermediate.int_feature_pairs p, intermediate.int_as_of_date a "
        "where p.snapshot_date <> a.as_of_date",
    ) == [(0,)]
    # The audit keeps one row per entity and run.
    assert query(db, "select count(distinct loaded_at), count(*) from staging.ingest_audit") in (
        [(2, 14)],
        [(1, 7)],  # both runs within the same second
    )


@pytest.mark.skipif(
    not SHARED_CDNOW.exists(),
    reason=f"CDNOW data not found at {SHARED_CDNOW} (it lives in the team's shared/ folder)",
)
def test_cdnow_goes_through_the_pipeline(tmp_path: Path) -> None:
    prepare_cdnow(SHARED_CDNOW, tmp_path / "cdnow")
    db = tmp_path / "cdnow.duckdb"
    run_pipeline(tmp_path / "cdnow", db, RunSettings(churn_horizon_days=90))
    assert query(
        db,
        "select rows_read, rows_loaded, rows_rejected, rows_duplicate from staging.ingest_audit "
        "where entity = 'orders'",
    ) == [(69659, 69659, 0, 0)]
    assert query(db, "select count(distinct customer_id) from staging.stg_shop__orders") == [
        (23570,)
    ]
