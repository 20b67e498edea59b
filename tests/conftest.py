"""Shared fixtures: test data paths, a read-only query helper, and a temporary scoring database
with a toy model registered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.helpers.toy_model import (
    ToyModel,
    create_feature_catalog,
    create_scoring_examples,
    feature_list,
    register_in_registry,
    write_model,
)

N_FEATURES = 8
N_ROWS = 3000  # more than one DuckDB vector (2048), so the UDF is called more than once


@dataclass
class ScoringDb:
    """A database file with feature_catalog, scoring_examples and (optionally) a model."""

    path: Path
    con: duckdb.DuckDBPyConnection
    names: list[str]
    x: np.ndarray
    model: ToyModel


@pytest.fixture
def scoring_db(tmp_path: Path) -> Iterator[ScoringDb]:
    """A fresh database with an active toy model (8 features, 16-8 hidden units)."""
    names = feature_list(N_FEATURES)
    model = write_model(
        tmp_path / "models", names, hidden=(16, 8), medians=[0.1] * N_FEATURES, seed=3
    )
    path = tmp_path / "churn.duckdb"
    con = duckdb.connect(str(path))
    create_feature_catalog(con, names)
    x = create_scoring_examples(con, names, N_ROWS)
    register_in_registry(con, model)
    yield ScoringDb(path=path, con=con, names=names, x=x, model=model)
    con.close()


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
