"""Point-in-time correctness: features at a snapshot never see data from at or after it.

One shop, cut at T (a snapshot date). Build A sees only what an extract taken at T would hold
(rows before T; deliveries and resolutions after T not yet known) and scores as of T. Build B
sees everything. Every feature of every snapshot before T, and the as-of-T features of A, must
equal B's. Then A's database gets the full data incrementally (C): it must equal B exactly.
C builds the daily activity table in several customer ranges (a tiny daily_activity_part_rows),
A and B in one: the incremental multi-range path must give the one-range result.

A second check builds one shop twice, in one range and in many, and compares the tables.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from shop_fixture import make_shop, truncate, write_shop

from churnwatch.config import RunSettings
from churnwatch.features import feature_names
from churnwatch.pipeline import run_pipeline

CUT = date(2024, 4, 15)  # a Monday: on the default weekly calendar (anchor 2000-01-03)


def _read(db, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["customer_id", "snapshot_date"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leak")
    shop = make_shop(n_customers=80, seed=11)
    full_dir = write_shop(shop, tmp / "full")
    cut_dir = write_shop(truncate(shop, datetime.combine(CUT, datetime.min.time())), tmp / "cut")
    db_a = tmp / "a.duckdb"
    run_pipeline(cut_dir, db_a, RunSettings(as_of_date=CUT.isoformat()))
    shutil.copy(db_a, tmp / "a_snapshot.duckdb")
    db_b = run_pipeline(full_dir, tmp / "b.duckdb", RunSettings())
    # incremental on top of A, the daily table in customer ranges of ~300 source rows
    db_c = run_pipeline(full_dir, db_a, RunSettings(daily_activity_part_rows=300))
    return tmp / "a_snapshot.duckdb", db_b, db_c


def test_history_before_the_cut_is_identical(builds):
    db_a, db_b, _ = builds
    a = _sorted(_read(db_a, "select * from customer_features"))
    b = _sorted(_read(db_b, f"select * from customer_features where snapshot_date < '{CUT}'"))
    assert len(a) > 200 and a["snapshot_date"].nunique() >= 10
    assert a["snapshot_date"].max() < pd.Timestamp(CUT)
    pd.testing.assert_frame_equal(a, b)


def test_as_of_features_equal_the_later_snapshot(builds):
    db_a, db_b, _ = builds
    cols = ", ".join(feature_names())
    a = _sorted(
        _read(
            db_a, f"select customer_id, as_of_date as snapshot_date, {cols} from scoring_examples"
        )
    )
    b = _sorted(
        _read(
            db_b,
            f"select customer_id, snapshot_date, {cols} from customer_features "
            f"where snapshot_date = '{CUT}'",
        )
    )
    assert len(a) >= 20
    pd.testing.assert_frame_equal(a, b)
    # the cut leaves something to leak: every entity has activity known before T
    for col in (
        "sessions_90d",
        "tickets_180d",
        "email_opens_90d",
        "reviews_180d",
        "late_deliveries_90d",
        "categories_lifetime",
    ):
        assert b[col].sum() > 0, col
    # ... and something after T that the build at T must not see
    later = _read(
        db_b, f"select count(*) as n from staging.stg_shop__orders where ordered_at >= '{CUT}'"
    )
    assert later["n"][0] > 0


def test_incremental_build_equals_a_full_build(builds):
    _, db_b, db_c = builds
    for table in ("customer_features", "churn_labels"):
        b = _sorted(_read(db_b, f"select * from {table}"))
        c = _sorted(_read(db_c, f"select * from {table}"))
        assert len(b) > 0
        pd.testing.assert_frame_equal(b, c, check_like=False, obj=table)
    b_scores = _read(
        db_b, "select * exclude (features) from scoring_examples order by customer_id"
    )
    c_scores = _read(
        db_c, "select * exclude (features) from scoring_examples order by customer_id"
    )
    pd.testing.assert_frame_equal(b_scores, c_scores)


def test_daily_activity_in_customer_ranges_equals_one_range(tmp_path, capfd):
    shop_dir = write_shop(make_shop(n_customers=60, seed=5), tmp_path / "shop")
    one = run_pipeline(shop_dir, tmp_path / "one.duckdb", RunSettings())
    capfd.readouterr()
    many = run_pipeline(
        shop_dir, tmp_path / "many.duckdb", RunSettings(daily_activity_part_rows=500)
    )
    out = capfd.readouterr().out
    assert "int_customer_daily_activity: part 3 of" in out  # it really was split
    daily = "select * from intermediate.int_customer_daily_activity"
    a, b = _read(one, daily), _read(many, daily)
    assert len(a) > 1000
    # stored in (customer, day) order either way: the windows model reads customer ranges
    pd.testing.assert_frame_equal(
        b, b.sort_values(["customer_id", "activity_date"]).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        a.sort_values(["customer_id", "activity_date"]).reset_index(drop=True),
        b.sort_values(["customer_id", "activity_date"]).reset_index(drop=True),
        check_exact=False,
        rtol=1e-12,  # browse_seconds: DOUBLE sums in another order
    )
    for table in ("customer_features", "churn_labels"):
        pd.testing.assert_frame_equal(
            _sorted(_read(one, f"select * from {table}")),
            _sorted(_read(many, f"select * from {table}")),
            obj=table,
        )


@pytest.fixture(scope="module")
def weekly(builds, tmp_path_factory):
    """A's database brought forward in two weekly runs (extracts taken at CUT + 9 and
    CUT + 16 days, scored as of then), and a fresh build of the second extract. The second
    run is the steady state: its pairs (the calendar snapshot CUT + 14 and the as-of date)
    have no window reaching before the collapsed history's cut, so the window model reads the
    collapsed rows and only the daily rows from the cut on."""
    db_a, _, _ = builds
    tmp = tmp_path_factory.mktemp("weekly")
    shop = make_shop(n_customers=80, seed=11)
    db = tmp / "weekly.duckdb"
    shutil.copy(db_a, db)
    for days in (9, 16):
        cut = CUT + timedelta(days=days)
        data = write_shop(
            truncate(shop, datetime.combine(cut, datetime.min.time())), tmp / str(days)
        )
        run_pipeline(data, db, RunSettings(as_of_date=cut.isoformat()))
    fresh = run_pipeline(data, tmp / "fresh.duckdb", RunSettings(as_of_date=cut.isoformat()))
    return db, fresh


def test_weekly_runs_on_the_collapsed_history_equal_a_full_build(weekly):
    db, fresh = weekly
    state = _read(
        db,
        "select max(collapsed_before) as hi from intermediate.int_customer_collapsed_history",
    )
    pairs = _read(db, "select min(snapshot_date) as first from intermediate.int_feature_pairs")
    # the last run computed only its week, and no window of its pairs reaches before the
    # collapsed history's cut: the window model took the collapsed path
    assert pairs["first"][0] == pd.Timestamp(CUT + timedelta(days=14))
    assert state["hi"][0] <= pairs["first"][0] - pd.Timedelta(days=180)
    for table in ("customer_features", "churn_labels"):
        a = _sorted(_read(db, f"select * from {table}"))
        b = _sorted(_read(fresh, f"select * from {table}"))
        assert len(b) > 0
        pd.testing.assert_frame_equal(a, b, obj=table)
    scores = "select * exclude (features) from scoring_examples order by customer_id"
    pd.testing.assert_frame_equal(_read(db, scores), _read(fresh, scores))
