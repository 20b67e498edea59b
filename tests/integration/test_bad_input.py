"""Bad input stops the run with a clear error, and the previous database stays intact."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from churnwatch.config import RunSettings
from churnwatch.ingest import IngestError, ingest
from churnwatch.pipeline import run_pipeline
from tests.conftest import DATA_DIR, query


@pytest.mark.parametrize(
    ("case", "must_name"),
    [
        ("missing_column", ["missing_column/orders.csv", "amount"]),
        ("not_parquet", ["not_parquet/orders.parquet", "Parquet"]),
        ("two_files", ["two_files", "orders.csv", "orders.csv.gz"]),
    ],
)
def test_shape_errors_name_the_file_and_column(
    tmp_path: Path, case: str, must_name: list[str]
) -> None:
    with pytest.raises(IngestError) as err:
        ingest(tmp_path / "x.duckdb", DATA_DIR / case)
    for needle in must_name:
        assert needle in str(err.value)


def test_missing_required_entity(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.csv").write_text("customer_id\nC1\n")
    with pytest.raises(IngestError, match="required entity 'orders' is missing"):
        ingest(tmp_path / "x.duckdb", tmp_path / "data")


def test_empty_file_loads_nothing_and_keeps_the_identity(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    loads = {x.entity: x for x in ingest(db, DATA_DIR / "empty_orders")}
    assert loads["orders"].rows_read == 0 and loads["orders"].note == "empty file"
    assert query(db, "select count(*) from raw.orders") == [(0,)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_run_leaves_previous_database_intact(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    run_pipeline(DATA_DIR / "messy_shop", db, RunSettings())
    before = _digest(db)
    orders_before = query(db, "select count(*) from staging.stg_shop__orders")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "churnwatch",
            "run",
            "--data-dir",
            str(DATA_DIR / "missing_column"),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "missing_column/orders.csv" in proc.stderr and "amount" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _digest(db) == before
    assert query(db, "select count(*) from staging.stg_shop__orders") == orders_before
    assert not list(tmp_path.glob("*.building*"))


def test_relative_data_dir_works_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet files are read through views later, by dbt in its own folder: paths must hold."""
    import duckdb

    data = tmp_path / "shop"
    data.mkdir()
    con = duckdb.connect()
    con.execute(
        f"copy (select 'O1' as order_id, 'C1' as customer_id, '2024-01-01' as ordered_at, "
        f"'9.50' as amount) to '{data / 'orders.parquet'}' (format parquet)"
    )
    con.close()
    monkeypatch.chdir(tmp_path)
    db = run_pipeline(Path("shop"), Path("shop.duckdb"), RunSettings())
    assert query(tmp_path / db, "select order_id, amount from staging.stg_shop__orders") == [
        ("O1", __import__("decimal").Decimal("9.50"))
    ]


def test_too_little_history_to_train_keeps_the_tables(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A shop with a few weeks of data gets its staging and features; scoring waits for history."""
    db = tmp_path / "shop.duckdb"
    with caplog.at_level("WARNING", logger="churnwatch.pipeline"):
        run_pipeline(
            DATA_DIR / "messy_shop",
            db,
            RunSettings(),
            train=True,
            artifacts=tmp_path / "artifacts",
        )
    assert "cannot train a model yet" in caplog.text
    assert query(db, "select count(*) from staging.stg_shop__orders") == [(6,)]
    assert query(
        db,
        "select count(*) from information_schema.tables where table_name = 'churn_scores'",
    ) == [(0,)]


def test_reingest_switches_between_parquet_and_csv(tmp_path: Path) -> None:
    """A second load replaces what the first left, whatever the formats (views vs tables)."""
    import duckdb

    pq_dir, csv_dir = tmp_path / "pq", tmp_path / "csv"
    pq_dir.mkdir()
    csv_dir.mkdir()
    con = duckdb.connect()
    con.execute(
        "copy (select 'O1' as order_id, 'C1' as customer_id, '2024-01-01' as ordered_at, "
        f"'1.00' as amount) to '{pq_dir / 'orders.parquet'}' (format parquet)"
    )
    con.close()
    (csv_dir / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,amount\nO2,C2,2024-01-02,2.00\nO3,C3,2024-01-03,3\n"
    )
    db = tmp_path / "x.duckdb"
    for folder, expected in ((pq_dir, 1), (csv_dir, 2), (pq_dir, 1), (pq_dir, 1)):
        ingest(db, folder)
        assert query(db, "select count(*) from raw.orders") == [(expected,)]
