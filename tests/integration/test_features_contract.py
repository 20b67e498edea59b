"""The feature marts' contract on a full-entity shop and on CDNOW (orders only), and a
brute-force recomputation of some features and labels straight from the raw rows."""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from shop_fixture import make_shop, write_shop

from churnwatch.config import RunSettings
from churnwatch.dbt_runner import DbtError, run_dbt
from churnwatch.features import feature_names
from churnwatch.pipeline import run_pipeline
from churnwatch.prepare_cdnow import prepare_cdnow

CDNOW = "/work/shared/datasets/cdnow/CDNOW_master.txt"


def _read(db, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def shop_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shop")
    shop = make_shop(n_customers=60, seed=3)
    db = run_pipeline(write_shop(shop, tmp / "data"), tmp / "shop.duckdb", RunSettings())
    return shop, db


def _check_contract(db) -> None:
    names = feature_names()
    n = len(names)
    catalog = _read(db, "select * from feature_catalog order by position")
    assert catalog["feature_name"].tolist() == names
    assert catalog["position"].tolist() == list(range(1, n + 1))
    for table, date_col in (
        ("training_examples", "snapshot_date"),
        ("scoring_examples", "as_of_date"),
    ):
        cols = _read(db, f"describe {table}")
        types = dict(zip(cols["column_name"], cols["column_type"], strict=True))
        assert list(types)[: n + 2] == ["customer_id", date_col, *names], table
        assert all(types[c] == "DOUBLE" for c in names), table
        assert types["features"] == f"FLOAT[{n}]", table
        df = _read(db, f"select * from {table}")
        assert len(df) > 0, table
        assert not df.isna().any().any(), table
        vec = np.stack(df["features"].to_numpy())
        assert vec.shape == (len(df), n)
        assert np.isfinite(vec).all()
        np.testing.assert_allclose(vec, df[names].to_numpy(dtype=np.float32), rtol=1e-6)
        assert not df.duplicated(["customer_id", date_col]).any(), table
    labels = _read(db, "select is_churned from training_examples")
    assert 0 < labels["is_churned"].mean() < 1


def test_contract_on_the_full_shop(shop_build):
    _check_contract(shop_build[1])


def test_features_and_labels_match_a_brute_force_recomputation(shop_build):
    shop, db = shop_build
    feats = _read(db, "select * from customer_features")
    labels = _read(db, "select * from churn_labels")
    as_of = _read(db, "select as_of_date from intermediate.int_as_of_date")["as_of_date"][0]
    orders = shop["orders"].assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"]),
        delivered_at=lambda d: pd.to_datetime(d["delivered_at"]),
        promised_delivery_at=lambda d: pd.to_datetime(d["promised_delivery_at"]),
    )
    tickets = shop["support_tickets"].assign(
        created_at=lambda d: pd.to_datetime(d["created_at"]),
        resolved_at=lambda d: pd.to_datetime(d["resolved_at"]),
    )
    signup = pd.to_datetime(shop["customers"].set_index("customer_id")["signup_at"])
    completed = orders[orders["status"] == "completed"]
    bought = orders[orders["status"] != "cancelled"]
    snapshots = sorted(feats["snapshot_date"].unique())
    checked = 0
    for t in snapshots[::3]:
        t = pd.Timestamp(t)
        lo = t - timedelta(days=180)
        # eligibility, from the raw rows
        active = set(
            completed[(completed["ordered_at"] >= lo) & (completed["ordered_at"] < t)][
                "customer_id"
            ]
        )
        active |= set(signup[(signup >= lo) & (signup < t)].index)
        got = feats[feats["snapshot_date"] == t].set_index("customer_id")
        assert set(got.index) == active, t
        for cid, row in got.iterrows():
            mine = bought[(bought["customer_id"] == cid) & (bought["ordered_at"] < t)]
            assert row["orders_30d"] == (mine["ordered_at"] >= t - timedelta(days=30)).sum()
            assert row["spend_90d"] == pytest.approx(
                mine[mine["ordered_at"] >= t - timedelta(days=90)]["amount"].sum()
            )
            last = mine["ordered_at"].max()
            expect = 365 if pd.isna(last) else min((t.normalize() - last.normalize()).days, 365)
            assert row["days_since_last_order"] == expect
            mine_t = tickets[(tickets["customer_id"] == cid) & (tickets["created_at"] < t)]
            open_ = mine_t["resolved_at"].isna() | (mine_t["resolved_at"] >= t)
            assert row["open_tickets"] == open_.sum()
            late = orders[
                (orders["customer_id"] == cid)
                & (orders["status"] != "cancelled")
                & (orders["delivered_at"] < t)
                & (orders["delivered_at"] >= t - timedelta(days=90))
                & (orders["delivered_at"] > orders["promised_delivery_at"])
            ]
            assert row["late_deliveries_90d"] == len(late)
            # pace features: lifetime counts per 30 days of tenure
            tenure = max((t.normalize() - signup[cid].normalize()).days, 0)
            placed = orders[(orders["customer_id"] == cid) & (orders["ordered_at"] < t)]
            assert row["orders_placed_per_30d_tenure"] == pytest.approx(
                len(placed) * 30 / max(tenure, 30)
            )
            assert row["orders_per_30d_shrunk"] == pytest.approx(
                (len(mine) + 1) * 30 / (tenure + 30)
            )
            assert row["tickets_lifetime"] == len(mine_t)
            if t + timedelta(days=30) <= pd.Timestamp(as_of):
                lab = labels[(labels["customer_id"] == cid) & (labels["snapshot_date"] == t)]
                nxt = completed[
                    (completed["customer_id"] == cid)
                    & (completed["ordered_at"] >= t)
                    & (completed["ordered_at"] < t + timedelta(days=30))
                ]
                assert lab["is_churned"].tolist() == [len(nxt) == 0]
            checked += 1
    assert checked > 100


def test_cdnow_orders_only(tmp_path):
    master = tmp_path / "master.txt"
    with open(CDNOW, encoding="utf-8") as src, open(master, "w", encoding="utf-8") as out:
        out.write(next(src))
        for line in src:  # the first 800 customers (ids are zero-padded, file sorted by id)
            if int(line.split()[0]) <= 800:
                out.write(line)
    data = tmp_path / "cdnow"
    prepare_cdnow(master, data)
    db = run_pipeline(data, tmp_path / "cdnow.duckdb", RunSettings())
    _check_contract(db)
    df = _read(db, "select * from training_examples")
    # absent entities give their documented defaults, not errors or NULLs
    assert (df["sessions_30d"] == 0).all() and (df["open_tickets"] == 0).all()
    assert (df["avg_rating_180d"] == 3).all() and (df["days_since_last_session"] == 365).all()
    assert (df["country_other"] == 1).all()
    assert (df["sessions_per_30d_tenure"] == 0).all() and (df["tickets_lifetime"] == 0).all()
    assert (df["sessions_30d_vs_lifetime"] == 1).all()
    assert (df["email_open_rate_lifetime"] == 0).all()
    assert (df["orders_placed_per_30d_tenure"] > 0).mean() > 0.5
    assert df["orders_180d"].gt(0).mean() > 0.5


def test_mart_tests_check_the_snapshots_this_run_built(shop_build, tmp_path):
    # the dbt tests of customer_features and churn_labels look only at the snapshots this run
    # computed (a full build here: all of them), so a broken row there must still fail them
    _, db = shop_build
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    first, last = _read(
        copy, "select min(snapshot_date) as a, max(snapshot_date) as b from churn_labels"
    ).iloc[0]
    assert first < last
    run_dbt("test", copy, select="customer_features churn_labels", quiet=True)  # clean: passes
    # a duplicated label at the earliest labelled snapshot (the full build computed it)
    con = duckdb.connect(str(copy))
    con.execute(
        "insert into churn_labels select * from churn_labels "
        f"where snapshot_date = date '{first.date()}' limit 1"
    )
    con.close()
    with pytest.raises(DbtError):
        run_dbt("test", copy, select="churn_labels", quiet=True)
