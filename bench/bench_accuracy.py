"""Benchmark model accuracy: sample shop vs its ground-truth ceiling, CDNOW vs recency by cutoff.

Part `sample`: generate the sample shop (`python -m churnwatch.sample`), run the whole pipeline
(`churnwatch.pipeline.run_pipeline(..., train=True)`: ingest, dbt, train, register, score), then
on the model's test snapshot(s) compare, on exactly the same customers (the eligible customers
in main.training_examples that the simulator also finds eligible):
    each trained algorithm (logreg, mlp; their ONNX models, captured from the training run),
    the days-since-last-order recency baseline (the feature of that name),
    the ceiling: `churnwatch.sample.truth.true_churn_probability` (Bayes-optimal given the
    latent state before the snapshot).
It also reports how the pipeline's eligible set and labels agree with the simulator's.

Part `cdnow`: for each cutoff C, truncate the prepared CDNOW orders to ordered_at < C, run the
pipeline on them with as_of_date = C and a 90-day horizon (fresh DB and artifacts), and
evaluate main.churn_scores at C against the true labels from the full data (eligible at C =
completed order in [C - 180, C); churned = no completed order in [C, C + 90)), next to each
algorithm and the recency baseline, on the same customers. Prints the training split and checks
that every split snapshot + horizon <= C.

The training of every run is timed (pipeline wall time and the training part of it).

Examples:
    python bench/bench_accuracy.py                                  # both parts, 20k shop
    python bench/bench_accuracy.py --parts sample --customers 20000,200000
    python bench/bench_accuracy.py --parts cdnow --cutoffs 1998-01-01
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CDNOW_DEFAULT = "/work/shared/datasets/cdnow/CDNOW_master.txt"
CUTOFFS_DEFAULT = "1997-10-01,1998-01-01,1998-04-01"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--parts", default="sample,cdnow", help="sample, cdnow or both (default)")
    p.add_argument(
        "--customers",
        default="20000",
        help="sample shop sizes, comma separated (default 20000)",
    )
    p.add_argument("--days", type=int, default=540, help="sample shop days (default 540)")
    p.add_argument("--seed", type=int, default=42, help="sample shop seed (default 42)")
    p.add_argument(
        "--horizon-days", type=int, default=30, help="sample shop churn horizon (default 30)"
    )
    p.add_argument("--cdnow-file", default=CDNOW_DEFAULT, help=f"default {CDNOW_DEFAULT}")
    p.add_argument(
        "--cutoffs", default=CUTOFFS_DEFAULT, help=f"CDNOW cutoffs (default {CUTOFFS_DEFAULT})"
    )
    p.add_argument(
        "--cdnow-horizon-days", type=int, default=90, help="CDNOW churn horizon (default 90)"
    )
    p.add_argument(
        "--active-days", type=int, default=180, help="active window, both parts (default 180)"
    )
    p.add_argument(
        "--work",
        default="/tmp/churnwatch-bench-accuracy",
        help="work directory for data, databases, artifacts "
        "(default /tmp/churnwatch-bench-accuracy)",
    )
    p.add_argument(
        "--reuse-data",
        action="store_true",
        help="reuse an already generated sample shop in --work (databases are always rebuilt)",
    )
    p.add_argument(
        "--reuse-runs",
        action="store_true",
        help="reuse pipeline runs (DB + captured training) left in --work by an earlier call "
        "instead of running the pipeline again (re-evaluation only; timings are the old ones)",
    )
    p.add_argument(
        "--features-db",
        type=Path,
        default=None,
        help="part sample, one size: a database whose features are already built from "
        "--data-dir (e.g. bench_features.py's incr.duckdb for the 1 M shop); it is copied and "
        "only training runs on it (skips the ~20-40 min dbt build of a 1 M shop)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="with --features-db: the sample shop (with its _truth) those features came from",
    )
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    p.add_argument(
        "--markdown", metavar="FILE", default=None, help="also write the tables as markdown"
    )
    return p.parse_args(argv)


# ---------------------------------------------------------------- helpers


def _f(v: Any, nd: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _ranking(y: Any, s: Any) -> dict[str, Any]:
    from models_py import metrics

    return {"roc_auc": metrics.roc_auc(y, s), "pr_auc": metrics.pr_auc(y, s)}


class _Capture:
    """Wrap models_py.train.fit_models to keep the TrainOutcome and the test rows' ids.

    train_and_register calls the module-level `fit_models`, so replacing it on the module
    captures what the pipeline's own training produced (every algorithm's ONNX and test
    scores), without training twice.
    """

    def __init__(self) -> None:
        self.outcome: Any = None
        self.test_ids: Any = None
        self.test_dates: Any = None
        self.seconds: float | None = None

    def __enter__(self) -> _Capture:
        from models_py import train

        self._orig = train.fit_models

        def wrapped(ex: Any, config: Any = None, log: Any = print) -> Any:
            config = train.TrainConfig() if config is None else config
            t0 = time.perf_counter()
            out = self._orig(ex, config, log)
            self.seconds = time.perf_counter() - t0
            test_mask = out.split.masks(ex.snapshot_dates)[2]
            # Plain data only (picklable): no Keras models.
            self.outcome = SimpleNamespace(
                algorithm=out.algorithm,
                feature_names=list(out.feature_names),
                test_X=out.test_X,
                test_y=out.test_y,
                results={
                    a: SimpleNamespace(onnx_bytes=r.onnx_bytes, test_p=r.test_p)
                    for a, r in out.results.items()
                },
            )
            self.test_ids = ex.customer_ids[test_mask]
            self.test_dates = ex.snapshot_dates[test_mask]
            return out

        train.fit_models = wrapped
        return self

    def __exit__(self, *exc: Any) -> None:
        from models_py import train

        train.fit_models = self._orig


def _run_pipeline(
    data_dir: Path,
    db: Path,
    settings: Any,
    artifacts: Path,
    reuse: bool = False,
    prebuilt: Path | None = None,
) -> dict[str, Any]:
    """Run the pipeline with training on a fresh DB; time it; return the captured training.

    The captured training is pickled next to the DB; with `reuse` an existing DB and pickle are
    used instead of running again (to re-evaluate without retraining).
    """
    import pickle

    from churnwatch.pipeline import run_pipeline

    saved = Path(str(db) + ".capture.pkl")
    if reuse and db.exists() and saved.exists():
        print(f"reusing {db} and {saved}", flush=True)
        return pickle.loads(saved.read_bytes())
    saved.unlink(missing_ok=True)
    for leftover in (db, Path(str(db) + ".wal")):
        leftover.unlink(missing_ok=True)
    if prebuilt is not None:
        shutil.copy(prebuilt, db)
    t0 = time.perf_counter()
    with _Capture() as cap:
        if prebuilt is None:
            run_pipeline(data_dir, db, settings, train=True, artifacts=artifacts)
        else:  # features built already: what the pipeline's training step does
            from churnwatch.features import feature_names
            from models_py import registry

            resolved = settings.resolved()
            registry.ensure_model(
                db,
                feature_names(),
                int(resolved["churn_horizon_days"]),
                active_window_days=int(resolved["active_window_days"]),
                artifacts=artifacts,
                log=lambda m: print(m, flush=True),
            )
    wall = time.perf_counter() - t0
    run = {
        "capture": SimpleNamespace(**{k: v for k, v in vars(cap).items() if k != "_orig"}),
        "pipeline_seconds": wall,
    }
    saved.write_bytes(pickle.dumps(run))
    return run


def _registry_record(db: Path) -> Any:
    import duckdb

    from models_py import registry

    with duckdb.connect(str(db)) as con:
        return registry.get_active(con)


# ---------------------------------------------------------------- sample shop


def run_sample(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import duckdb
    import numpy as np
    import pandas as pd

    from churnwatch.config import RunSettings
    from churnwatch.sample import truth as truth_mod
    from models_py import data, export

    data_dir = args.data_dir or work / f"sample_n{n}_s{args.seed}_d{args.days}"
    res: dict[str, Any] = {"customers": n, "data_dir": str(data_dir)}
    if args.features_db is None and not (
        args.reuse_data and (data_dir / "orders.parquet").exists()
    ):
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "churnwatch.sample",
                "--customers",
                str(n),
                "--days",
                str(args.days),
                "--seed",
                str(args.seed),
                "--out",
                str(data_dir),
                "--no-progress",
            ],
            check=True,
        )
        res["generate_seconds"] = round(time.perf_counter() - t0, 1)
    db = work / f"sample_n{n}.duckdb"
    settings = RunSettings(
        churn_horizon_days=args.horizon_days, active_window_days=args.active_days
    )
    run = _run_pipeline(
        data_dir,
        db,
        settings,
        work / f"artifacts_sample_n{n}",
        reuse=args.reuse_runs,
        prebuilt=args.features_db,
    )
    cap = run["capture"]
    record = _registry_record(db)
    m = record.metrics
    res.update(
        pipeline_seconds=round(run["pipeline_seconds"], 1),
        train_seconds=round(cap.seconds, 1),
        algo_seconds={a: r["seconds"] for a, r in m["algorithms"].items()},
        model_version=record.model_version,
        selected=m["selected"],
        split=m["split"],
        rows=m["rows"],
        registry_test={a: r["test"] for a, r in m["algorithms"].items()},
        registry_baseline=m["baseline_days_since_last_order"],
    )
    out = cap.outcome
    names = list(out.feature_names)
    rec_col = names.index("days_since_last_order")
    te = pd.DataFrame(
        {
            "customer_id": cap.test_ids.astype(str),
            "snapshot_date": pd.to_datetime(cap.test_dates).date,
            "is_churned": out.test_y.astype(int),
            "recency": out.test_X[:, rec_col].astype(float),
            **{f"p_{a}": r.test_p for a, r in out.results.items()},
        }
    )
    # The registered ONNX (selected model, with metadata) re-scored on the test rows.
    te["p_registered"] = export.predict_onnx(record.onnx_path, out.test_X)
    # Cross-check the captured rows against the database's training_examples.
    # (on a big shop training saw a hash sample of customers, TrainConfig.max_examples: the
    # test rows are that sample's)
    from models_py.train import TrainConfig

    with duckdb.connect(str(db), read_only=True) as con:
        sample, _ = data.customer_sample(con, TrainConfig().max_examples)
        ex_db = data.load_training_examples(
            con,
            names,
            where=f"snapshot_date between DATE '{record.test_start_date}' "
            f"and DATE '{record.test_end_date}'" + (f" and {sample}" if sample else ""),
        )
    assert len(ex_db) == len(te) and np.array_equal(
        ex_db.customer_ids.astype(str), te["customer_id"].to_numpy()
    ), "captured test rows differ from main.training_examples"

    truth = truth_mod.load_truth(data_dir)
    per_snapshot = []
    merged_all = []
    for snap in sorted(te["snapshot_date"].unique()):
        t0 = time.perf_counter()
        p = truth_mod.true_churn_probability(
            truth, snap, horizon_days=args.horizon_days, active_days=args.active_days
        )
        lab = truth_mod.empirical_churn_labels(
            truth, snap, horizon_days=args.horizon_days, active_days=args.active_days
        )
        rec = truth_mod.days_since_last_order(truth, snap, active_days=args.active_days)
        tr = p.merge(lab, on="customer_id").merge(rec, on="customer_id")
        tr = tr.rename(columns={"is_churned": "truth_churned"})
        part = te[te["snapshot_date"] == snap]
        mg = part.merge(tr, on="customer_id", how="inner")
        only_te = int(len(part) - len(mg))
        only_truth = int(len(tr) - len(mg))
        disagree = int((mg["is_churned"] != mg["truth_churned"].astype(int)).sum())
        per_snapshot.append(
            {
                "snapshot": str(snap),
                "training_examples": int(len(part)),
                "truth_eligible": int(len(tr)),
                "both": int(len(mg)),
                "only_training_examples": only_te,
                "only_truth": only_truth,
                "label_disagreements": disagree,
                "label_disagreement_rate": disagree / len(mg) if len(mg) else None,
                "truth_seconds": round(time.perf_counter() - t0, 1),
            }
        )
        merged_all.append(mg)
    mg = pd.concat(merged_all, ignore_index=True)
    y = mg["is_churned"].to_numpy()
    scores: dict[str, dict[str, Any]] = {}
    for a in out.results:
        scores[a] = _ranking(y, mg[f"p_{a}"].to_numpy())
    scores["registered (" + out.algorithm + ")"] = _ranking(y, mg["p_registered"].to_numpy())
    # The pipeline's feature is 365 (the cap) for a customer with no order yet; the simulator's
    # recency counts from the signup then. Both are reported.
    scores["recency baseline (days_since_last_order feature)"] = _ranking(
        y, mg["recency"].to_numpy()
    )
    scores["recency from signup if no order (truth.days_since_last_order)"] = _ranking(
        y, mg["recency_days"].to_numpy()
    )
    scores["ceiling (true p)"] = _ranking(y, mg["p_churn"].to_numpy())
    scores["ceiling vs simulator labels"] = _ranking(
        mg["truth_churned"].astype(int).to_numpy(), mg["p_churn"].to_numpy()
    )
    res.update(
        agreement=per_snapshot,
        n_eval=int(len(mg)),
        base_rate=float(y.mean()),
        scores=scores,
        gap_selected_roc=scores[out.algorithm]["roc_auc"] - scores["ceiling (true p)"]["roc_auc"],
        gap_selected_pr=scores[out.algorithm]["pr_auc"] - scores["ceiling (true p)"]["pr_auc"],
    )
    return res


def sample_tables(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        ceil = r["scores"]["ceiling (true p)"]
        lines.append(
            f"### Sample shop, {r['customers']:,} customers "
            f"(test snapshot(s) {r['split']['test'][0]}..{r['split']['test'][1]}, "
            f"{r['n_eval']:,} customers, churn rate {r['base_rate']:.3f}; "
            f"selected: {r['selected']})"
        )
        lines.append("")
        lines.append(
            "| scorer | ROC-AUC | PR-AUC | ROC-AUC gap to ceiling | PR-AUC gap to ceiling |"
        )
        lines.append("|---|---:|---:|---:|---:|")
        for name, s in r["scores"].items():
            if name == "ceiling vs simulator labels":
                continue
            gr = s["roc_auc"] - ceil["roc_auc"]
            gp = s["pr_auc"] - ceil["pr_auc"]
            lines.append(
                f"| {name} | {_f(s['roc_auc'])} | {_f(s['pr_auc'])} | {gr:+.4f} | {gp:+.4f} |"
            )
        lines.append("")
        lines.append(
            "| snapshot | training_examples rows | simulator eligible | both | only pipeline | "
            "only simulator | label disagreements |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for a in r["agreement"]:
            lines.append(
                f"| {a['snapshot']} | {a['training_examples']:,} | {a['truth_eligible']:,} | "
                f"{a['both']:,} | {a['only_training_examples']} | {a['only_truth']} | "
                f"{a['label_disagreements']} ({a['label_disagreement_rate']:.4%}) |"
            )
        lines.append("")
        sp = r["split"]
        lines.append(
            f"Split: train {sp['train'][0]}..{sp['train'][1]} ({sp['train'][2]} snapshots, "
            f"{r['rows']['train']:,} rows), validation "
            f"{sp['validation'][0]}..{sp['validation'][1]}"
            f" ({r['rows']['validation']:,} rows), test {sp['test'][0]}..{sp['test'][1]} "
            f"({r['rows']['test']:,} rows). Timing: pipeline (ingest + dbt + train + score) "
            f"{r['pipeline_seconds']:.0f} s, of which training {r['train_seconds']:.0f} s ("
            + ", ".join(f"{a} {s:.0f} s" for a, s in r["algo_seconds"].items())
            + f"). Model {r['model_version']}."
        )
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- CDNOW


def _cdnow_truth(orders_csv: Path, cutoff: dt.date, horizon: int, active: int) -> Any:
    """Eligible customers at the cutoff and their true labels and recency, from the full data."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(
            f"""
            with o as (
                select customer_id::varchar as customer_id, ordered_at::date as d
                from read_csv(?, header = true, all_varchar = true)
                where status = 'completed'
            )
            select
                customer_id,
                count(*) filter (where d >= ?::date and d < ?::date + {horizon}) = 0
                    as is_churned,
                ?::date - max(d) filter (where d < ?::date) as recency_days
            from o
            group by customer_id
            having count(*) filter (where d >= ?::date - {active} and d < ?::date) > 0
            order by customer_id
            """,
            [str(orders_csv)] + [cutoff] * 6,
        ).df()
    finally:
        con.close()


def run_cdnow_cutoff(
    cutoff: dt.date, full_dir: Path, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    import duckdb
    import numpy as np

    from churnwatch.config import RunSettings
    from models_py import export

    h = args.cdnow_horizon_days
    res: dict[str, Any] = {"cutoff": str(cutoff), "horizon_days": h}
    trunc_dir = work / f"cdnow_before_{cutoff}"
    trunc_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_csv(?, header = true, all_varchar = true) "
            f"where ordered_at::date < ?::date) to '{trunc_dir / 'orders.csv'}' "
            "(header, delimiter ',')",
            [str(full_dir / "orders.csv"), cutoff],
        )
        n_orders, last = con.execute(
            "select count(*), max(ordered_at) from read_csv(?, header = true, all_varchar = true)",
            [str(trunc_dir / "orders.csv")],
        ).fetchone()
    res.update(orders_before_cutoff=int(n_orders), last_order_before_cutoff=str(last))
    truth = _cdnow_truth(full_dir / "orders.csv", cutoff, h, args.active_days)
    res["truth_eligible"] = int(len(truth))
    res["truth_churn_rate"] = float(truth["is_churned"].mean())
    db = work / f"cdnow_{cutoff}.duckdb"
    settings = RunSettings(
        churn_horizon_days=h, active_window_days=args.active_days, as_of_date=str(cutoff)
    )
    try:
        run = _run_pipeline(
            trunc_dir, db, settings, work / f"artifacts_cdnow_{cutoff}", reuse=args.reuse_runs
        )
    except Exception as exc:  # report and go on with the other cutoffs
        res["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        # The recency baseline needs no model: still report it on the eligible customers.
        res["scores"] = {
            "recency baseline": _ranking(
                truth["is_churned"].astype(int).to_numpy(), truth["recency_days"].to_numpy()
            )
        }
        return res
    cap = run["capture"]
    record = _registry_record(db)
    m = record.metrics
    split = m["split"]
    dates = {
        k: (dt.date.fromisoformat(v[0]), dt.date.fromisoformat(v[1]))
        for k, v in split.items()
        if k in ("train", "validation", "test")
    }
    latest_labelled = max(d[1] for d in dates.values())
    res.update(
        pipeline_seconds=round(run["pipeline_seconds"], 1),
        train_seconds=round(cap.seconds, 1),
        algo_seconds={a: r["seconds"] for a, r in m["algorithms"].items()},
        model_version=record.model_version,
        selected=m["selected"],
        split=split,
        rows=m["rows"],
        split_respects_cutoff=bool(latest_labelled + dt.timedelta(days=h) <= cutoff),
        latest_split_snapshot_plus_horizon=str(latest_labelled + dt.timedelta(days=h)),
        registry_test={a: r["test"] for a, r in m["algorithms"].items()},
        registry_baseline=m["baseline_days_since_last_order"],
    )
    with duckdb.connect(str(db), read_only=True) as con:
        scores_df = con.execute(
            "select s.customer_id, s.churn_probability, e.days_since_last_order, e.features "
            "from main.churn_scores s join main.scoring_examples e "
            "on e.customer_id = s.customer_id and e.as_of_date = s.as_of_date "
            "where s.as_of_date = ? order by s.customer_id",
            [cutoff],
        ).df()
        max_te = con.execute("select max(snapshot_date) from main.training_examples").fetchone()[0]
    res["training_examples_max_snapshot"] = str(max_te)
    mg = scores_df.merge(truth, on="customer_id", how="inner")
    res.update(
        scored=int(len(scores_df)),
        both=int(len(mg)),
        only_scored=int(len(scores_df) - len(mg)),
        only_truth=int(len(truth) - len(mg)),
        recency_mismatch=int((mg["days_since_last_order"] != mg["recency_days"]).sum()),
    )
    y = mg["is_churned"].astype(int).to_numpy()
    X = np.stack(mg["features"].to_numpy()).astype(np.float32)
    scores: dict[str, dict[str, Any]] = {
        f"churn_scores ({m['selected']}, selected)": _ranking(y, mg["churn_probability"])
    }
    for a, r in cap.outcome.results.items():
        scores[a] = _ranking(y, export.predict_onnx(r.onnx_bytes, X))
    scores["recency baseline"] = _ranking(y, mg["recency_days"].to_numpy())
    res.update(n_eval=int(len(mg)), base_rate=float(y.mean()), scores=scores)
    res["selected_minus_recency_roc"] = (
        scores[m["selected"]]["roc_auc"] - scores["recency baseline"]["roc_auc"]
    )
    return res


def cdnow_tables(results: list[dict[str, Any]]) -> str:
    lines = [
        "| cutoff | eligible (scored) | churn rate | scorer | ROC-AUC | PR-AUC | "
        "ROC-AUC vs recency | PR-AUC vs recency |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        base = r["scores"]["recency baseline"]
        n = r.get("n_eval", r["truth_eligible"])
        rate = r.get("base_rate", r["truth_churn_rate"])
        for name, s in r["scores"].items():
            lines.append(
                f"| {r['cutoff']} | {n:,} | {rate:.3f} | {name} | {_f(s['roc_auc'])} | "
                f"{_f(s['pr_auc'])} | {s['roc_auc'] - base['roc_auc']:+.4f} | "
                f"{s['pr_auc'] - base['pr_auc']:+.4f} |"
            )
        if "error" in r:
            lines.append(f"| {r['cutoff']} | | | model: **not trained** ({r['error']}) | | | | |")
    lines.append("")
    lines.append(
        "| cutoff | train snapshots | validation | test | last split snapshot + horizon <= cutoff "
        "| rows train / val / test | eligible: both / only pipeline / only truth | "
        "pipeline s | training s |"
    )
    lines.append("|---|---|---|---|---|---|---|---:|---:|")
    for r in results:
        if "error" in r:
            lines.append(f"| {r['cutoff']} | (training failed) | | | | | | | |")
            continue
        sp, rows = r["split"], r["rows"]
        lines.append(
            f"| {r['cutoff']} | {sp['train'][0]}..{sp['train'][1]} ({sp['train'][2]}) | "
            f"{sp['validation'][0]}..{sp['validation'][1]} | {sp['test'][0]}..{sp['test'][1]} | "
            f"{r['latest_split_snapshot_plus_horizon']} "
            f"{'yes' if r['split_respects_cutoff'] else 'NO'} | "
            f"{rows['train']:,} / {rows['validation']:,} / {rows['test']:,} | "
            f"{r['both']:,} / {r['only_scored']} / {r['only_truth']} | "
            f"{r['pipeline_seconds']:.0f} | {r['train_seconds']:.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    out: dict[str, Any] = {
        "argv": sys.argv[1:],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
    }
    md: list[str] = []

    def dump() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        if args.markdown:
            Path(args.markdown).write_text("\n".join(md) + "\n")

    if "sample" in parts:
        out["sample"] = []
        for n in [int(x) for x in args.customers.split(",") if x.strip()]:
            out["sample"].append(run_sample(n, args, work))
            dump()
        md.append("## Sample shop\n")
        md.append(sample_tables(out["sample"]))
        print("\n" + md[-1], flush=True)
        dump()
    if "cdnow" in parts:
        from churnwatch.prepare_cdnow import prepare_cdnow

        full_dir = work / "cdnow_full"
        prepare_cdnow(args.cdnow_file, full_dir)
        out["cdnow"] = []
        for c in args.cutoffs.split(","):
            out["cdnow"].append(
                run_cdnow_cutoff(dt.date.fromisoformat(c.strip()), full_dir, args, work)
            )
            dump()
        md.append(f"## CDNOW, {args.cdnow_horizon_days}-day horizon\n")
        md.append(cdnow_tables(out["cdnow"]))
        print("\n" + md[-1], flush=True)
        dump()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
