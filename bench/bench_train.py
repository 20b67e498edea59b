"""Benchmark `churnwatch train`: wall time on N synthetic training rows, or accuracy on a real DB.

Synthetic mode (default) generates weekly snapshots with ~60 features so that the train part of
the split holds about --rows rows, writes them to a temporary DuckDB file and runs the whole
training (`models_py.train.train_and_register`: load, search, final fits, calibration, ONNX
export, parity, metrics, registry, plots, card), timing each part.

DB mode (--db PATH) trains and evaluates on an existing main.training_examples table and prints
test ROC-AUC / PR-AUC per algorithm and for the days-since-last-order baseline (nothing is
registered unless --register).

Examples:
    python bench/bench_train.py                     # 1,000,000 training rows, 60 features
    python bench/bench_train.py --rows 100000 --threads 2
    python bench/bench_train.py --db data/cdnow.duckdb --horizon-days 90
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="synthetic training rows (in the train part of the split; default 1,000,000)",
    )
    p.add_argument("--features", type=int, default=60, help="synthetic feature count (default 60)")
    p.add_argument(
        "--snapshots", type=int, default=52, help="synthetic weekly snapshots (default 52)"
    )
    p.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="use this DuckDB file's main.training_examples instead of synthetic data",
    )
    p.add_argument(
        "--register",
        action="store_true",
        help="with --db: also register the model and write artifacts",
    )
    p.add_argument(
        "--artifacts",
        metavar="DIR",
        default=None,
        help="artifacts root for --register (default: $CHURNWATCH_ARTIFACTS or ./artifacts)",
    )
    p.add_argument("--horizon-days", type=int, default=30, help="churn horizon (default 30)")
    p.add_argument("--algorithms", default="logreg,mlp", help="algorithms (default logreg,mlp)")
    p.add_argument("--max-epochs", type=int, default=15, help="final-fit epoch limit (default 15)")
    p.add_argument("--no-search", action="store_true", help="skip the hyperparameter search")
    p.add_argument(
        "--no-refit",
        action="store_true",
        help="register the train-only fit (no refit on every snapshot before the test)",
    )
    p.add_argument(
        "--threads", type=int, default=0, help="TensorFlow intra-op threads (0 = default)"
    )
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import duckdb

    from models_py import data, synthetic, train

    config = train.TrainConfig(
        horizon_days=args.horizon_days,
        seed=args.seed,
        algorithms=tuple(a.strip() for a in args.algorithms.split(",") if a.strip()),
        max_epochs=args.max_epochs,
        search=not args.no_search,
        refit=not args.no_refit,
        threads=args.threads,
    )
    lines: list[str] = []

    def log(msg: str) -> None:
        lines.append(msg)
        print(msg, flush=True)

    result: dict[str, object] = {"argv": sys.argv[1:], "cpus": os.cpu_count()}
    if args.db:
        t0 = time.perf_counter()
        with duckdb.connect(args.db, read_only=not args.register) as con:
            ex = data.load_training_examples(con)
        t_load = time.perf_counter() - t0
        if args.register:
            res = train.train_and_register(args.db, config, artifacts=args.artifacts, log=log)
            m = res.record.metrics
        else:
            m = train.fit_models(ex, config, log=log).metrics
        t_total = time.perf_counter() - t0
        print()
        print(f"{'model':<12} {'ROC-AUC':>8} {'PR-AUC':>8} {'lift@10%':>9} {'capture@10%':>12}")
        rows = {name: r["test"] for name, r in m["algorithms"].items()}
        base = m["baseline_days_since_last_order"]
        if "skipped" not in base:
            rows["recency"] = base
        for name, t in rows.items():
            print(
                f"{name:<12} {_f(t['roc_auc']):>8} {_f(t['pr_auc']):>8} "
                f"{_f(t['top_10pct']['lift']):>9} {_f(t['top_10pct']['capture']):>12}"
            )
        if "skipped" in base:
            print(f"recency baseline skipped: {base['skipped']}")
        print(
            f"selected: {m['selected']}; test rows {m['rows']['test']}; "
            f"train rows {m['rows']['train']}; load {t_load:.1f}s; total {t_total:.1f}s"
        )
        result.update({"db": args.db, "test": rows, "rows": m["rows"], "seconds": t_total})
    else:
        # train snapshots = snapshots - test - gap - val - gap; gap = ceil(h / 7) - 1 snapshots
        gap = math.ceil(args.horizon_days / 7) - 1
        n_train_snaps = args.snapshots - config.test_snapshots - config.val_snapshots - 2 * gap
        if n_train_snaps < 4:
            raise SystemExit("too few --snapshots for the split")
        customers = math.ceil(args.rows / n_train_snaps)
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.duckdb")
            t0 = time.perf_counter()
            table, names = synthetic.make_examples(
                customers, args.snapshots, args.features, seed=args.seed
            )
            with duckdb.connect(db) as con:
                synthetic.write_training_examples(con, table, names)
            del table
            t_gen = time.perf_counter() - t0
            log(
                f"generated {customers * args.snapshots} rows x {args.features} features "
                f"({customers} customers x {args.snapshots} snapshots) in {t_gen:.1f}s"
            )
            t0 = time.perf_counter()
            res = train.train_and_register(db, config, artifacts=os.path.join(tmp, "art"), log=log)
            t_total = time.perf_counter() - t0
        m = res.record.metrics
        print()
        print(
            f"train rows: {m['rows']['train']}; features: {args.features}; "
            f"total rows: {customers * args.snapshots}"
        )
        print(
            f"wall time train_and_register: {t_total:.1f}s "
            f"({t_total / m['rows']['train'] * 1e6:.1f}s per 1M training rows)"
        )
        for name, r in m["algorithms"].items():
            refit = r.get("refit")
            print(
                f"  {name}: {r['seconds']:.1f}s, {r['epochs']} epochs, val PR-AUC "
                f"{_f(r['val_pr_auc'])}, test PR-AUC {_f(r['test']['pr_auc'])}, "
                f"ROC-AUC {_f(r['test']['roc_auc'])}"
                + (
                    f"; of which refit {refit['seconds']:.1f}s ({refit['epochs']} epochs on "
                    f"{refit['rows']} rows; before refit test ROC-AUC "
                    f"{_f(refit['before']['test']['roc_auc'])})"
                    if refit
                    else ""
                )
            )
        print(f"  selected {m['selected']}; parity {m['parity_max_abs_diff']:.1e}")
        result.update(
            {
                "rows": m["rows"],
                "seconds": t_total,
                "algorithms": {
                    n: {
                        "seconds": r["seconds"],
                        "epochs": r["epochs"],
                        "test_pr_auc": r["test"]["pr_auc"],
                        "refit": r.get("refit"),
                    }
                    for n, r in m["algorithms"].items()
                },
            }
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


def _f(v: object) -> str:
    return "n/a" if v is None else f"{v:.4f}"  # type: ignore[str-format]


if __name__ == "__main__":
    raise SystemExit(main())
