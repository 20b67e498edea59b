"""Fixtures for the model tests: a synthetic training_examples DB and a model trained once."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from models_py import synthetic

N_CUSTOMERS, N_SNAPSHOTS, N_FEATURES = 150, 26, 8


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than 15 s (trains TensorFlow models)")


@pytest.fixture()
def synthetic_db(tmp_path):
    """A DuckDB file with synthetic main.training_examples + main.feature_catalog."""
    path = tmp_path / "churn.duckdb"
    synthetic.create_synthetic_db(str(path), N_CUSTOMERS, N_SNAPSHOTS, N_FEATURES, seed=11)
    return path


@pytest.fixture(scope="session")
def examples():
    """The synthetic examples as loaded from DuckDB."""
    from models_py.data import load_training_examples

    con = duckdb.connect()
    table, names = synthetic.make_examples(N_CUSTOMERS, N_SNAPSHOTS, N_FEATURES, seed=11)
    synthetic.write_training_examples(con, table, names)
    ex = load_training_examples(con)
    con.close()
    return ex


@pytest.fixture(scope="session")
def small_config():
    """A cheap training config (no search, few epochs)."""
    from models_py.train import TrainConfig

    return TrainConfig(max_epochs=4, search=False, seed=5)


@pytest.fixture(scope="session")
def trained(examples, small_config):
    """One training run shared by the export tests."""
    from models_py.train import fit_models

    return fit_models(examples, small_config, log=lambda _: None)


def with_changes(config, **changes):
    return dataclasses.replace(config, **changes)
