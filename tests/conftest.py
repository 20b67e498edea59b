"""Shared fixtures: paths to test data and a helper to build a temporary DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
SHARED_CDNOW = TESTS_DIR.parent.parent / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt"


def query(db_path: Path, sql: str) -> list[tuple]:
    """Run one query read-only on a database file and return all rows."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR
