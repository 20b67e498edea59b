"""Modelling and feature levers for the sample-shop accuracy gap, side by side on one database.

Loads main.training_examples of a pipeline-built sample-shop database (bench_accuracy.py leaves
one in its --work directory), splits it like training does (horizon 30), and fits variants with
models_py.train's own fit function, reporting test ROC-AUC / PR-AUC on the test snapshot next to
the simulator's ceiling (true churn probability, cached beside the database). Not a test; the
figures are in bench/RESULTS_accuracy.md.

Variants (comma separated, e.g. mlp2,mlp1,mlp2:refit):
    mlp2 / mlp1 / lr           two-layer [128, 64] MLP, one-layer [128] MLP, logistic regression
    <model>:nocw               without class weights
    <model>:long               30 epochs, patience 4
    <model>:refit              then refit on every snapshot S + 30 <= test for the best epochs
    pace                       mlp2 and lr with 13 pace features appended (computed here from
                               the cumulative totals at T; the same expressions as the SQL ones)
    oracle:rate / oracle:M / oracle:rate+M
                               mlp2 with simulator latents appended (true completed-order
                               rate; fade multiplier and onset-before-T flag): a diagnostic of
                               what the gap to the ceiling consists of, not a model

Example:
    PYTHONPATH=. python bench/accuracy_levers.py --db /tmp/cw-acc/sample_n20000.duckdb \\
        --truth /tmp/cw-acc/sample_n20000_s42_d540 mlp2,mlp1,mlp2:refit
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

P2 = {"hidden": [128, 64], "dropout": 0.2, "l2": 1e-5, "learning_rate": 2e-3}
P1 = {"hidden": [128], "dropout": 0.2, "l2": 1e-5, "learning_rate": 2e-3}
LR = {"l2": 1e-2, "learning_rate": 0.02}
MODELS = {"mlp2": ("mlp", P2), "mlp1": ("mlp", P1), "lr": ("logreg", LR)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--db", required=True, help="pipeline-built sample-shop DuckDB file")
    ap.add_argument("--truth", required=True, help="the sample shop's data directory (_truth/)")
    ap.add_argument("variants", help="comma-separated variants (see above)")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import duckdb
    import pandas as pd

    from churnwatch.sample import model as sim_model
    from churnwatch.sample import truth as truth_mod
    from models_py import data, metrics, train

    with duckdb.connect(args.db, read_only=True) as con:
        ex = data.load_training_examples(con)
        cum = con.execute(
            """
            select t.customer_id,
                coalesce(a.cum_sessions, 0)::double as s,
                coalesce(a.cum_active_days, 0)::double as ad,
                coalesce(a.cum_orders_placed, 0)::double as op,
                coalesce(a.cum_purchases, 0)::double as pu,
                coalesce(a.cum_emails_sent, 0)::double as es,
                coalesce(a.cum_email_opens, 0)::double as eo,
                coalesce(a.cum_late_deliveries, 0)::double as ld,
                coalesce(a.cum_deliveries, 0)::double as dl,
                coalesce(a.cum_low_ratings, 0)::double as lr,
                coalesce(a.cum_tickets, 0)::double as tk,
                coalesce(a.cum_product_views, 0)::double as pv
            from main.training_examples t
            asof left join intermediate.int_customer_activity_cumulative a
                on t.customer_id = a.customer_id and t.snapshot_date > a.activity_date
            order by t.snapshot_date, t.customer_id
            """
        ).fetchnumpy()
    assert np.array_equal(cum["customer_id"].astype(str), ex.customer_ids.astype(str))
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
    print(f"ceiling: test ROC {metrics.roc_auc(yt[ok], pc[ok]):.4f} on {ok.sum()} rows")

    names = list(ex.feature_names)

    def col(n: str) -> np.ndarray:
        return ex.X[:, names.index(n)].astype(np.float64)

    ten = np.maximum(col("tenure_days"), 30)

    def pace(x: np.ndarray) -> np.ndarray:
        return x * 30 / ten

    extra = {
        "pace": [
            (cum["pu"] + 1) * 30 / (col("tenure_days") + 30),
            pace(cum["op"]),
            pace(cum["s"]),
            pace(cum["ad"]),
            pace(cum["pv"]),
            (col("sessions_30d") + 1) / (pace(cum["s"]) + 1),
            (col("sessions_7d") + 1) / (pace(cum["s"]) * 7 / 30 + 1),
            (col("active_days_30d") + 1) / (pace(cum["ad"]) + 1),
            (col("email_opens_90d") + 1) / (cum["eo"] * 90 / ten + 1),
            np.where(cum["es"] > 0, cum["eo"] / np.maximum(cum["es"], 1), 0),
            np.where(cum["dl"] > 0, cum["ld"] / np.maximum(cum["dl"], 1), 0),
            cum["lr"],
            cum["tk"],
        ]
    }
    if any(v.startswith("oracle") for v in args.variants.split(",")):
        tru = truth_mod.load_truth(args.truth)
        c = tru.customers.set_index("customer_id")
        ids = ex.customer_ids.astype(str)
        rate = np.log(c.loc[ids, "completed_rate"].to_numpy() + 1e-4)
        onset = c.loc[ids, "onset_day"].to_numpy(dtype=float)
        tday = (ex.snapshot_dates - np.datetime64(tru.start)).astype(int)
        before = ~np.isnan(onset) & (np.nan_to_num(onset, nan=1e9) < tday)
        k = tday - 1 - np.nan_to_num(onset, nan=0)
        fade = np.where(before, sim_model.fade(np.maximum(k, 0), c.loc[ids, "fade_days"]), 1.0)
        extra["oracle:rate"] = [rate]
        extra["oracle:M"] = [fade, before.astype(float)]
        extra["oracle:rate+M"] = [rate, fade, before.astype(float)]

    def fit(alg, params, X, y, Xv, yv, epochs=15, patience=2, weights=True):
        cfg = train.TrainConfig(max_epochs=epochs, patience=patience)
        prep = train.Preprocessing.fit(X, seed=42)
        orig = train._class_weight
        if not weights:
            train._class_weight = lambda y: {0: 1.0, 1: 1.0}
        try:
            return train._fit(
                alg, params, prep, X, y, Xv, yv, config=cfg, epochs=epochs, log=None, tag=alg
            )
        finally:
            train._class_weight = orig

    def report(name, logit, t0, note=""):
        print(
            f"RESULT {name}: test ROC {metrics.roc_auc(yt[ok], logit[ok]):.4f} "
            f"PR {metrics.pr_auc(yt[ok], logit[ok]):.4f} ({time.perf_counter() - t0:.0f}s) {note}",
            flush=True,
        )

    for v in args.variants.split(","):
        t0 = time.perf_counter()
        if v in extra:
            X = np.hstack([ex.X, np.stack(extra[v], 1).astype(np.float32)])
            for m_name in ("mlp2",) if v.startswith("oracle") else ("mlp2", "lr"):
                alg, params = MODELS[m_name]
                m, ep, best = fit(alg, params, X[tr], ex.y[tr], X[va], ex.y[va])
                report(f"{v} {m_name}", train._logits(m, X[te]), t0, f"epochs {ep}")
            continue
        m_name, _, mode = v.partition(":")
        alg, params = MODELS[m_name]
        X, y, Xv, yv = ex.X[tr], ex.y[tr], ex.X[va], ex.y[va]
        if mode == "long":
            m, ep, best = fit(alg, params, X, y, Xv, yv, epochs=30, patience=4)
        else:
            m, ep, best = fit(alg, params, X, y, Xv, yv, weights=mode != "nocw")
        vpr = metrics.pr_auc(yv, train._logits(m, Xv))
        report(
            v if mode != "refit" else f"{m_name} (train only)",
            train._logits(m, ex.X[te]),
            t0,
            f"epochs {ep} (best {best}) val PR {vpr:.4f}",
        )
        if mode == "refit":
            h = np.timedelta64(30, "D")
            allm = ex.snapshot_dates + h <= np.datetime64(split.test_dates[0])
            prep = train.Preprocessing.fit(ex.X[allm], seed=42)
            cfg = train.TrainConfig(max_epochs=best)
            m2, _, _ = train._fit(
                alg,
                params,
                prep,
                ex.X[allm],
                ex.y[allm],
                None,
                None,
                config=cfg,
                epochs=best,
                log=None,
                tag=alg,
            )
            report(
                f"{m_name} refit ({allm.sum()} rows, {best} epochs)",
                train._logits(m2, ex.X[te]),
                t0,
            )


if __name__ == "__main__":
    main()
