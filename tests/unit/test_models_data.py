"""Loading training_examples through Arrow and the contract checks."""

import subprocess
import sys

import duckdb
import numpy as np
import pytest

from models_py import synthetic
from models_py.data import (
    DataError,
    customer_sample,
    feature_names_from_db,
    load_training_examples,
)


@pytest.fixture()
def con():
    c = duckdb.connect()
    table, names = synthetic.make_examples(40, 12, 6, seed=3)
    synthetic.write_training_examples(c, table, names)
    yield c
    c.close()


def test_load_matches_sql(con):
    ex = load_training_examples(con)
    names = feature_names_from_db(con)
    assert list(ex.feature_names) == names
    assert ex.X.shape == (40 * 12, 6) and ex.X.dtype == np.float32
    assert np.all(ex.snapshot_dates[:-1] <= ex.snapshot_dates[1:])
    # the FLOAT[N] vector agrees with the DOUBLE columns, in catalog order
    cols = con.sql(
        f"select {', '.join(names)} from main.training_examples "
        "order by snapshot_date, customer_id"
    ).fetchnumpy()
    for j, n in enumerate(names):
        np.testing.assert_allclose(ex.X[:, j], cols[n].astype(np.float32))
    churn = con.sql("select avg(is_churned::INT) from main.training_examples").fetchall()[0][0]
    assert ex.y.mean() == pytest.approx(churn)


def test_customer_sample_keeps_whole_customers_up_to_the_cap():
    c = duckdb.connect()
    table, names = synthetic.make_examples(2000, 10, 4, seed=5)
    synthetic.write_training_examples(c, table, names)
    assert customer_sample(c, 20_000) == (None, None)  # everything fits
    assert customer_sample(c, None) == (None, None)
    where, note = customer_sample(c, 5_000)
    assert "max_examples 5000" in note
    ex = load_training_examples(c, where=where)
    assert 4_000 <= len(ex) <= 6_000  # ~a quarter of 20,000 rows
    per_customer = np.unique(ex.customer_ids, return_counts=True)[1]
    assert (per_customer == 10).all()  # every snapshot of a kept customer
    again = load_training_examples(c, where=customer_sample(c, 5_000)[0])
    np.testing.assert_array_equal(again.customer_ids, ex.customer_ids)  # same data, same sample


def test_catalog_length_must_match_vector(con):
    con.execute("insert into main.feature_catalog values (7, 'orders_90d_extra')")
    with pytest.raises(DataError, match="lacks columns"):
        load_training_examples(con)
    con.execute("alter table main.training_examples add column orders_90d_extra DOUBLE default 0")
    with pytest.raises(DataError, match=r"FLOAT\[6\].*7 features"):
        load_training_examples(con)


def test_nan_feature_is_named(con):
    con.execute(
        "update main.training_examples set features = "
        "list_value(features[1], 'nan'::FLOAT, features[3], features[4], features[5], "
        "features[6])::FLOAT[6] where customer_id = 'c0000001'"
    )
    with pytest.raises(DataError, match="orders_90d"):
        load_training_examples(con)


def test_missing_table():
    with pytest.raises(DataError, match="feature_catalog"):
        load_training_examples(duckdb.connect())


def test_light_modules_do_not_import_tensorflow():
    code = (
        "import sys, models_py.cli, models_py.registry, models_py.metrics, models_py.data, "
        "models_py.evaluate, models_py.train, models_py.export; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_cli_option_has_help():
    from models_py.cli import build_parser

    parser = build_parser()
    seen = 0
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"{p.prog}: {action.dest} has no help"
                seen += 1
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                stack.extend(action.choices.values())
    assert seen > 10
