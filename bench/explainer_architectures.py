"""Which MLP shape gives cheap exact reasons without losing accuracy?

For each --hidden shape (e.g. `64` for one hidden layer, `64,32` for two), trains the churnwatch
MLP on a database's main.training_examples with the default config but that one shape (search
off, same time split, --seeds), then reports:

- validation and test PR-AUC / ROC-AUC (the test snapshot(s) of the split),
- the explainer's agreement with full exact occlusion on 2,000 test rows (training's own check),
- the cost in ONNX Runtime alone (1 thread, minimum thread CPU time of --repeat interleaved runs
  over 4,096 rows): model.onnx, explain.onnx (K candidates), and, for one hidden layer, exact
  occlusion of every feature (K = N).

Models are not registered. Scratch results for the 2026-11-30 `scorefast` round are in
bench/RESULTS_scoring.md.

Run: PYTHONPATH=. python bench/explainer_architectures.py --db /tmp/scorefast/shop.duckdb \
        --hidden 64,32 64 128 --seeds 42 7
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_py import data, explain, train  # noqa: E402


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def cpu_cost(models: dict[str, tuple[bytes, int]], x: np.ndarray, repeat: int) -> dict[str, float]:
    """Minimum thread CPU microseconds per row of each model over `repeat` interleaved runs."""
    sessions = {k: (_session(b), batch) for k, (b, batch) in models.items()}
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name, (sess, batch) in sessions.items():
            outs = [o.name for o in sess.get_outputs()]
            c0 = time.thread_time()
            for s in range(0, len(x), batch):
                sess.run(outs, {"features": x[s : s + batch]})
            best[name] = min(best.get(name, float("inf")), time.thread_time() - c0)
    return {k: v / len(x) * 1e6 for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--db", required=True, help="DuckDB file with main.training_examples")
    ap.add_argument(
        "--hidden",
        nargs="+",
        default=["64,32", "64"],
        help="MLP shapes, comma-separated widths per shape (default: 64,32 and 64)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[42], help="training seeds")
    ap.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    ap.add_argument("--learning-rate", type=float, default=3e-3, help="Adam learning rate")
    ap.add_argument("--candidates", type=int, default=explain.DEFAULT_CANDIDATES, help="K")
    ap.add_argument("--repeat", type=int, default=40, help="interleaved cost runs (min kept)")
    args = ap.parse_args(argv)

    with duckdb.connect(args.db, read_only=True) as con:
        ex = data.load_training_examples(con)
    rng = np.random.default_rng(0)
    x_cost = ex.X[rng.choice(len(ex.X), 4096, replace=False)].astype(np.float32)
    n = ex.X.shape[1]
    costs: dict[str, tuple[bytes, int]] = {}
    print(
        f"{'hidden':>8s} {'seed':>4s} {'val PR':>7s} {'test PR':>7s} {'test ROC':>8s} "
        f"{'top1':>6s} {'top3':>6s}",
        flush=True,
    )
    for shape in args.hidden:
        hidden = [int(w) for w in shape.split(",")]
        for seed in args.seeds:
            params = {
                "hidden": hidden,
                "dropout": args.dropout,
                "l2": 1e-5,
                "learning_rate": args.learning_rate,
            }
            train.SEARCH_SPACE["mlp"] = [params]
            cfg = train.TrainConfig(
                algorithms=("mlp",),
                search=False,
                seed=seed,
                explainer_candidates=args.candidates,
            )
            out = train.fit_models(ex, cfg, log=lambda _m: None)
            r, e = out.results["mlp"], out.metrics["explainer"]
            test = out.metrics["test"]
            print(
                f"{shape:>8s} {seed:4d} {r.val_pr_auc:7.4f} {test['pr_auc']:7.4f} "
                f"{test['roc_auc']:8.4f} {e['same_top1']:6.1%} {e['same_top3']:6.1%}",
                flush=True,
            )
            if seed == args.seeds[0]:
                net = explain.network_from_keras(out.export_model, train.CLIP)
                costs[f"{shape} model.onnx"] = (out.onnx_bytes, 2048)
                costs[f"{shape} explain.onnx K={args.candidates}"] = (out.explainer_bytes, 256)
                if len(hidden) == 1:
                    every = explain.build_explainer(net, out.feature_medians, n_candidates=n)
                    costs[f"{shape} exact occlusion of all {n}"] = (every, 256)
    print(f"# ONNX Runtime alone, 1 thread, min thread CPU of {args.repeat} runs x 4,096 rows")
    for name, us in cpu_cost(costs, x_cost, args.repeat).items():
        print(f"{name:40s} {us:6.2f} us/row")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
