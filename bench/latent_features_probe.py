"""Probe candidate latent-state features side by side before writing them in dbt.

Loads main.training_examples of a pipeline-built sample-shop database, computes candidate
features for every (customer, snapshot T) from intermediate.int_customer_daily_activity rows
strictly before T (no leakage), splits like training (horizon 30), and fits the two-layer MLP
(the searched choice, models_py.train's own fit function, seed 42) on the base feature vector
and on base + each candidate group, reporting test ROC-AUC / PR-AUC next to the simulator's
ceiling. A diagnostic, not a test; figures go to bench/RESULTS_accuracy.md.

Candidate groups (comma separated):
    win14   14-day sessions / active days / orders placed and their ratio to the lifetime pace
    ewma    exponentially weighted (20-day) recent pace of sessions, orders placed, active days
            relative to the customer's pace before the last 60 days (the pre-onset rate)
    dissat  60-day decayed count of late deliveries + low ratings + tickets, and days since
            the last "good" completed-order day (no late delivery, ticket or low rating)
    pre60   pace per 30 days before the last 60 days (sessions, orders placed, active days;
            the lifetime pace when tenure < 90) and the last 30 days relative to it (expressible
            with a 60-day window: all history minus [T - 60, T))
    gap     days since the last session over the usual session gap, and since the last order
            over the usual order gap (lifetime pace)
    all     win14 + ewma + dissat + gap (15 features; pre60 is not in it)

Example:
    PYTHONPATH=. python bench/latent_features_probe.py --db /tmp/acc3/s42.duckdb \\
        --truth /tmp/acc3/s42 base,all,win14,ewma,dissat,gap
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

P2 = {"hidden": [128, 64], "dropout": 0.2, "l2": 1e-5, "learning_rate": 2e-3}

CANDIDATES_SQL = """
with ex as (
    select customer_id, snapshot_date as t from main.training_examples
),
j as (
    select ex.customer_id, ex.t, d.activity_date as day,
        datediff('day', d.activity_date, ex.t) as age,
        coalesce(d.sessions, 0)::double as s,
        coalesce(d.active_days, 0)::double as ad,
        coalesce(d.orders_placed, 0)::double as op,
        coalesce(d.completed_orders, 0)::double as co,
        coalesce(d.late_deliveries, 0)::double as ld,
        coalesce(d.low_ratings, 0)::double as lr,
        coalesce(d.tickets, 0)::double as tk
    from ex join intermediate.int_customer_daily_activity d
        on d.customer_id = ex.customer_id and d.activity_date < ex.t
)
select customer_id, t,
    sum(s) filter (where age <= 14) as s14,
    sum(ad) filter (where age <= 14) as ad14,
    sum(op) filter (where age <= 14) as op14,
    sum(s) as s_all, sum(ad) as ad_all, sum(op) as op_all,
    sum(s * exp(-age / 20.0)) as s_ew, sum(op * exp(-age / 20.0)) as op_ew,
    sum(ad * exp(-age / 20.0)) as ad_ew,
    sum(s) filter (where age > 60) as s_old, sum(op) filter (where age > 60) as op_old,
    sum(ad) filter (where age > 60) as ad_old,
    sum((ld + lr + tk) * exp(-age / 60.0)) as dissat,
    min(age) filter (where co > 0 and ld = 0 and lr = 0 and tk = 0) as dsg,
    min(age) filter (where s > 0) as dss,
    min(age) filter (where op > 0) as dso
from j group by all
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--db", required=True, help="pipeline-built sample-shop DuckDB file")
    ap.add_argument("--truth", required=True, help="the sample shop's data directory (_truth/)")
    ap.add_argument("variants", help="comma-separated: base and candidate groups (see above)")
    ap.add_argument(
        "--save-scores",
        metavar="DIR",
        default=None,
        help="write each run's test logits as DIR/<variant>_s<seed>.parquet (customer_id, score)",
    )
    ap.add_argument(
        "--seeds", default="42", help="comma-separated training seeds per variant (default 42)"
    )
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import duckdb
    import pandas as pd

    from churnwatch.sample import truth as truth_mod
    from models_py import data, metrics, train

    t0 = time.perf_counter()
    with duckdb.connect(args.db, read_only=True) as con:
        ex = data.load_training_examples(con)
        cand = con.execute(CANDIDATES_SQL).df()
    keys = pd.DataFrame(
        {"customer_id": ex.customer_ids.astype(str), "t": pd.to_datetime(ex.snapshot_dates)}
    )
    cand["t"] = pd.to_datetime(cand["t"])
    c = keys.merge(cand, on=["customer_id", "t"], how="left").fillna(
        {k: 0.0 for k in cand.columns if k not in ("customer_id", "t", "dsg", "dss", "dso")}
    )
    print(f"candidates computed in {time.perf_counter() - t0:.0f}s", flush=True)
    names = list(ex.feature_names)
    ten = np.maximum(ex.X[:, names.index("tenure_days")].astype(np.float64), 1.0)

    def v(n: str) -> np.ndarray:
        return c[n].to_numpy(dtype=np.float64)

    def pace(x: np.ndarray, days: float | np.ndarray) -> np.ndarray:
        return x * days / np.maximum(ten, 30.0)

    old_days = np.maximum(ten - 60.0, 0.0)

    def rel_old(ew: np.ndarray, old: np.ndarray, all_: np.ndarray) -> np.ndarray:
        # ewma weight sum ~ 20 days; the pre-recent rate falls back to lifetime when short
        rate = np.where(
            old_days >= 30, old / np.maximum(old_days, 1.0), all_ / np.maximum(ten, 30)
        )
        return (ew + 0.5) / (rate * 20.0 + 0.5)

    cap = np.minimum(ten, 365.0)
    dsg = np.nan_to_num(v("dsg"), nan=cap)
    dss = np.nan_to_num(v("dss"), nan=cap)
    dso = np.nan_to_num(v("dso"), nan=cap)
    groups = {
        "win14": [
            v("s14"),
            v("ad14"),
            v("op14"),
            (v("s14") + 1) / (pace(v("s_all"), 14) + 1),
            (v("ad14") + 1) / (pace(v("ad_all"), 14) + 1),
            (v("op14") + 1) / (pace(v("op_all"), 14) + 1),
        ],
        "ewma": [
            v("s_ew"),
            v("op_ew"),
            rel_old(v("s_ew"), v("s_old"), v("s_all")),
            rel_old(v("op_ew"), v("op_old"), v("op_all")),
            rel_old(v("ad_ew"), v("ad_old"), v("ad_all")),
        ],
        "dissat": [v("dissat"), dsg],
        "gap": [
            dss * (v("s_all") + 0.5) / np.maximum(ten, 30),
            dso * (v("op_all") + 0.5) / np.maximum(ten, 30),
        ],
    }

    def old_pace(old: np.ndarray, all_: np.ndarray) -> np.ndarray:
        # per 30 days before the last 60 days (T - 60); lifetime pace when that is short
        return 30.0 * np.where(
            old_days >= 30, old / np.maximum(old_days, 1.0), all_ / np.maximum(ten, 30.0)
        )

    groups["pre60"] = [
        old_pace(v("s_old"), v("s_all")),
        old_pace(v("op_old"), v("op_all")),
        old_pace(v("ad_old"), v("ad_all")),
        (ex.X[:, names.index("sessions_30d")] + 0.5) / (old_pace(v("s_old"), v("s_all")) + 0.5),
        (ex.X[:, names.index("active_days_30d")] + 0.5)
        / (old_pace(v("ad_old"), v("ad_all")) + 0.5),
        (ex.X[:, names.index("orders_30d")] + 0.5) / (old_pace(v("op_old"), v("op_all")) + 0.5),
    ]
    groups["all"] = [x for g in ("win14", "ewma", "dissat", "gap") for x in groups[g]]

    train.configure_tensorflow()
    split = data.time_split(ex.snapshot_dates, 30)
    tr, va, te = split.masks(ex.snapshot_dates)
    yt = ex.y[te]
    cache = Path(args.db + ".truth.npy")
    if not cache.exists():
        p = truth_mod.true_churn_probability(
            truth_mod.load_truth(args.truth), split.test_dates[0], horizon_days=30
        )
        ids = pd.DataFrame({"customer_id": ex.customer_ids[te].astype(str)})
        np.save(cache, ids.merge(p, on="customer_id", how="left")["p_churn"].to_numpy())
    pc = np.load(cache)
    ok = ~np.isnan(pc)
    print(
        f"test {split.test_dates[0]}: ceiling ROC {metrics.roc_auc(yt[ok], pc[ok]):.4f} "
        f"PR {metrics.pr_auc(yt[ok], pc[ok]):.4f} on {ok.sum()} rows",
        flush=True,
    )
    rec = ex.X[te][:, names.index("days_since_last_order")]
    print(f"recency ROC {metrics.roc_auc(yt[ok], rec[ok]):.4f}", flush=True)

    runs = [(v, int(sd)) for v in args.variants.split(",") for sd in args.seeds.split(",")]
    for var, seed in runs:
        t1 = time.perf_counter()
        X = ex.X
        if var != "base":
            X = np.hstack([ex.X, np.stack(groups[var], 1).astype(np.float32)])
        cfg = train.TrainConfig(max_epochs=15, patience=2, seed=seed)
        prep = train.Preprocessing.fit(X[tr], seed=42)
        m, ep, best = train._fit(
            "mlp", P2, prep, X[tr], ex.y[tr], X[va], ex.y[va],
            config=cfg, epochs=15, log=None, tag="mlp",
        )  # fmt: skip
        lt = train._logits(m, X[te])
        if args.save_scores:
            Path(args.save_scores).mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"customer_id": ex.customer_ids[te].astype(str), "score": lt}).to_parquet(
                Path(args.save_scores) / f"{var}_s{seed}.parquet", index=False
            )
        print(
            f"RESULT {var} (+{X.shape[1] - ex.X.shape[1]}) seed {seed}: test ROC "
            f"{metrics.roc_auc(yt[ok], lt[ok]):.4f} PR {metrics.pr_auc(yt[ok], lt[ok]):.4f} "
            f"epochs {ep} (best {best}) ({time.perf_counter() - t1:.0f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
