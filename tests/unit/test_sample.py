"""Tests of the sample shop (churnwatch/sample): determinism, contract, manifest, ground truth."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from churnwatch.contract import ENTITIES, ENTITY_BY_NAME
from churnwatch.sample import truth as tr
from churnwatch.sample.cli import add_subcommands
from churnwatch.sample.writer import SampleConfig, generate_sample

MAIN_TS = {
    "orders": "ordered_at",
    "customers": "signup_at",
    "events": "occurred_at",
    "reviews": "created_at",
    "support_tickets": "created_at",
    "email_events": "occurred_at",
}
NEGATIVE = {"amount", "discount_amount", "quantity", "unit_price"}
RANGED = {"rating", "satisfaction"}
KEYS = {
    "orders": ["order_id"],
    "order_items": ["order_id", "product_id"],
    "customers": ["customer_id"],
}


def _gen(tmp: Path, **kw) -> tuple[Path, dict]:
    cfg = SampleConfig(**{"customers": 600, "days": 240, "seed": 7, "out": tmp, **kw})
    return tmp, generate_sample(cfg, progress=False)


def _digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pq_sample(tmp_path_factory) -> tuple[Path, dict]:
    return _gen(tmp_path_factory.mktemp("pq"), defect_rate=0.03)


@pytest.fixture(scope="module")
def csv_sample(tmp_path_factory) -> tuple[Path, dict]:
    return _gen(tmp_path_factory.mktemp("csv"), defect_rate=0.03, fmt="csv")


@pytest.fixture(scope="module")
def big_truth(tmp_path_factory) -> tr.Truth:
    d, _ = _gen(tmp_path_factory.mktemp("big"), customers=4000, days=400, seed=11)
    return tr.load_truth(d)


# --------------------------------------------------------------------------- reading as text
def _read_text(path: Path, entity: str) -> tuple[pd.DataFrame, int]:
    """All contract columns as strings (None for null) and the number of malformed CSV lines."""
    cols = ENTITY_BY_NAME[entity].column_names
    if path.suffix == ".parquet":
        df = pq.read_table(path).to_pandas()
        for c in cols:
            df[c] = [
                None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                for v in df[c].astype(object)
            ]
        return df[cols], 0
    rows, malformed = [], 0
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for rec in reader:
            if len(rec) != len(header):
                malformed += 1
                continue
            rows.append([v if v != "" else None for v in rec])
    return pd.DataFrame(rows, columns=header)[cols], malformed


def _reference_clean(d: Path, fmt: str) -> dict[str, dict]:
    """Independent implementation of the cleaning rules of docs/interfaces.md (counts only)."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    out: dict[str, dict] = {}
    loaded_orders: set[str] = set()
    for ent in ("orders", *[e.name for e in ENTITIES if e.name != "orders"]):
        spec = ENTITY_BY_NAME[ent]
        df, malformed = _read_text(d / f"{ent}.{fmt}", ent)
        reason = pd.Series([None] * len(df), dtype=object)

        def flag(mask, name, reason=reason):
            reason[mask.to_numpy() & reason.isna().to_numpy()] = name

        for c in spec.columns:
            if c.not_null:
                flag(
                    df[c.name].isna() | (df[c.name].fillna("x").str.strip() == ""),
                    f"missing_{c.name}",
                )
        for c in spec.columns:
            v = df[c.name]
            if c.sql_type == "TIMESTAMP":
                bad = (
                    v.notna()
                    & pd.to_datetime(v, errors="coerce", utc=True, format="ISO8601").isna()
                )
            elif c.sql_type in ("INTEGER", "DOUBLE") or c.sql_type.startswith("DECIMAL"):
                bad = v.notna() & pd.to_numeric(v, errors="coerce").isna()
            else:
                continue
            flag(bad, f"unparseable_{c.name}")
        for c in spec.columns:
            if c.name in NEGATIVE:
                flag(pd.to_numeric(df[c.name], errors="coerce") < 0, f"negative_{c.name}")
        for c in spec.columns:
            if c.name in RANGED:
                x = pd.to_numeric(df[c.name], errors="coerce")
                flag(x.notna() & ((x < 1) | (x > 5)), f"out_of_range_{c.name}")
        if ent in MAIN_TS:
            ts = pd.to_datetime(df[MAIN_TS[ent]], errors="coerce", utc=True, format="ISO8601")
            flag(ts.dt.tz_localize(None) > now, f"future_{MAIN_TS[ent]}")
        for col, allowed in spec.enums.items():
            norm = df[col].fillna("completed" if col == "status" else "").str.strip().str.lower()
            flag(~norm.isin(allowed), f"unknown_{col}")
        if ent == "order_items":
            flag(~df["order_id"].isin(loaded_orders), "orphan_order_item")
        kept = df[reason.isna().to_numpy()]
        norm = kept.apply(lambda s, e=spec.enums: s.str.strip().str.lower() if s.name in e else s)
        dup = norm.duplicated(keep="first")
        superseded = (
            norm[~dup].duplicated(subset=KEYS.get(ent) or None, keep="last")
            if ent in KEYS
            else None
        )
        if ent == "orders":
            loaded_orders = set(kept["order_id"])
        rejected = reason.dropna().value_counts().to_dict()
        if malformed:
            rejected["malformed_csv_line"] = malformed
        out[ent] = {
            "rows_written": len(df) + malformed,
            "rows_rejected": {k: int(v) for k, v in sorted(rejected.items())},
            "rows_duplicate": int(dup.sum()),
            "superseded": 0 if superseded is None else int(superseded.sum()),
        }
    return out


# --------------------------------------------------------------------------- tests
def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    for fmt in ("parquet", "csv"):
        a, _ = _gen(tmp_path / f"a_{fmt}", customers=300, days=120, fmt=fmt)
        b, _ = _gen(tmp_path / f"b_{fmt}", customers=300, days=120, fmt=fmt)
        c, _ = _gen(tmp_path / f"c_{fmt}", customers=300, days=120, fmt=fmt, seed=8)
        da, db, dc = _digest(a), _digest(b), _digest(c)
        assert len(da) == 7 + 1 + 3  # entities, manifest, truth (2 parquet + meta)
        assert da == db
        assert da[f"orders.{fmt}"] != dc[f"orders.{fmt}"]
        assert da[f"events.{fmt}"] != dc[f"events.{fmt}"]


def test_output_independent_of_worker_processes(tmp_path: Path) -> None:
    kw = {"customers": 500, "days": 100, "chunk_size": 200, "fmt": "csv", "defect_rate": 0.0}
    a, _ = _gen(tmp_path / "one", workers=1, **kw)
    b, _ = _gen(tmp_path / "two", workers=2, **kw)
    assert _digest(a) == _digest(b)
    ids = pd.read_csv(a / "customers.csv", usecols=["customer_id"]).customer_id.dropna()
    assert ids.nunique() == 500  # three chunks, every customer once


def test_every_contract_entity_and_column(pq_sample, csv_sample) -> None:
    for d, fmt in ((pq_sample[0], "parquet"), (csv_sample[0], "csv")):
        for e in ENTITIES:
            path = d / f"{e.name}.{fmt}"
            assert path.exists(), path
            if fmt == "parquet":
                names = pq.read_schema(path).names
                assert pq.read_metadata(path).num_rows > 0
            else:
                names = path.open().readline().strip().replace('"', "").split(",")
            assert names == e.column_names, e.name


def test_parquet_types(pq_sample) -> None:
    schema = pq.read_schema(pq_sample[0] / "orders.parquet")
    assert str(schema.field("ordered_at").type) == "string"
    assert str(schema.field("amount").type) == "decimal128(18, 2)"
    assert (
        str(pq.read_schema(pq_sample[0] / "order_items.parquet").field("quantity").type) == "int32"
    )


@pytest.mark.parametrize("which", ["pq_sample", "csv_sample"])
def test_manifest_matches_reference_cleaning(which, request) -> None:
    d, manifest = request.getfixturevalue(which)
    assert json.loads((d / "_manifest.json").read_text()) == manifest
    ref = _reference_clean(d, manifest["format"])
    total_defects = 0
    for ent, got in manifest["entities"].items():
        exp = ref[ent]
        assert got["rows_written"] == exp["rows_written"], ent
        assert got["rows_rejected"] == exp["rows_rejected"], ent
        assert got["rows_duplicate"] == exp["rows_duplicate"], ent
        assert exp["superseded"] == 0, ent
        assert (
            got["rows_loaded"]
            == got["rows_written"] - got["rows_rejected_total"] - got["rows_duplicate"]
        )
        assert got["rows_rejected_total"] == sum(got["rows_rejected"].values())
        total_defects += got["rows_rejected_total"] + got["rows_duplicate"]
    # The test would be vacuous without defects: every reason kind must actually occur.
    assert total_defects > 100
    orders = manifest["entities"]["orders"]
    for reason in (
        "negative_amount",
        "unparseable_ordered_at",
        "future_ordered_at",
        "unknown_status",
    ):
        assert orders["rows_rejected"].get(reason, 0) > 0, reason
    assert manifest["entities"]["order_items"]["rows_rejected"]["orphan_order_item"] > 0
    assert orders["defects_not_rejected"]["casing_status"] > 0
    if manifest["format"] == "csv":
        assert orders["rows_rejected"]["malformed_csv_line"] > 0


def test_negative_amounts_counted(pq_sample) -> None:
    d, manifest = pq_sample
    amount = pq.read_table(d / "orders.parquet").column("amount").to_pylist()
    n_neg = sum(1 for a in amount if a is not None and a < 0)
    assert n_neg == manifest["entities"]["orders"]["rows_rejected"]["negative_amount"]


def test_zero_defect_rate_is_clean(tmp_path: Path) -> None:
    d, manifest = _gen(tmp_path, customers=300, days=120, defect_rate=0.0, fmt="csv")
    for ent, got in manifest["entities"].items():
        assert got["rows_rejected"] == {} and got["rows_duplicate"] == 0, ent
    ref = _reference_clean(d, "csv")
    for ent, exp in ref.items():
        assert exp["rows_rejected"] == {} and exp["rows_duplicate"] == 0, ent


def test_clean_timestamps_inside_period(pq_sample) -> None:
    d, manifest = pq_sample
    lo = pd.Timestamp(manifest["start_date"]) - pd.Timedelta(days=1)
    hi = pd.Timestamp(manifest["end_date"]) + pd.Timedelta(days=1)
    for ent, col in MAIN_TS.items():
        ts = pd.to_datetime(
            pq.read_table(d / f"{ent}.parquet").column(col).to_pandas(),
            errors="coerce",
            format="ISO8601",
        ).dt.tz_localize(None)
        ok = ts[ts.dt.year < 2099].dropna()
        assert ok.min() >= lo and ok.max() < hi, ent


def _snapshots(truth: tr.Truth) -> list[dt.date]:
    end = truth.start + dt.timedelta(days=truth.days - 1)
    return [end - dt.timedelta(days=b) for b in (45, 110, 180)]


def test_label_rate_recency_and_ceiling(big_truth) -> None:
    for snap in _snapshots(big_truth):
        lab = tr.empirical_churn_labels(big_truth, snap, 30)
        p = tr.true_churn_probability(big_truth, snap, 30)
        rec = tr.days_since_last_order(big_truth, snap)
        assert list(lab.customer_id) == list(p.customer_id) == list(rec.customer_id)
        y = lab.is_churned.to_numpy()
        assert len(y) > 500
        assert 0.15 <= y.mean() <= 0.60, (snap, y.mean())
        auc_rec = roc_auc_score(y, rec.recency_days)
        auc_true = roc_auc_score(y, p.p_churn)
        assert auc_rec > 0.6, (snap, auc_rec)
        assert auc_true > auc_rec + 0.04, (snap, auc_true, auc_rec)


def test_truth_probability_calibrated(big_truth) -> None:
    for snap in _snapshots(big_truth):
        y = tr.empirical_churn_labels(big_truth, snap, 30).is_churned.to_numpy()
        p = tr.true_churn_probability(big_truth, snap, 30).p_churn.to_numpy()
        assert ((p > 0) & (p <= 1)).all()
        # Labels are independent Bernoulli(p) given the latent state: z-test of the sum.
        z = (y - p).sum() / np.sqrt((p * (1 - p)).sum())
        assert abs(z) < 4, (snap, z, y.mean(), p.mean())
        # Calibration inside deciles too (coarser: 10 bins, each within 0.08).
        bins = pd.qcut(p, 10, labels=False, duplicates="drop")
        frame = pd.DataFrame({"y": y, "p": p, "b": bins}).groupby("b").mean()
        assert (frame.y - frame.p).abs().max() < 0.08, frame


def test_truth_longer_horizon_lower_churn(big_truth) -> None:
    snap = _snapshots(big_truth)[1]
    p30 = tr.true_churn_probability(big_truth, snap, 30).p_churn.to_numpy()
    p90 = tr.true_churn_probability(big_truth, snap, 90).p_churn.to_numpy()
    assert (p90 <= p30 + 1e-12).all()


def test_cli_subcommand_options() -> None:
    parser = argparse.ArgumentParser(prog="churnwatch")
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sample", "--customers", "10", "--format", "csv"])
    assert args.customers == 10 and args.fmt == "csv" and args.days == 540
    assert str(args.out) == "data/sample" and args.defect_rate == 0.005
    assert args.end_date == dt.date(2026, 6, 30)
    with pytest.raises(SystemExit):
        parser.parse_args(["sample", "--defect-rate", "2"])
