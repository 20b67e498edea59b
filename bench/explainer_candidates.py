"""Explainer candidates K and ONNX Runtime session options, on an exported model (no TensorFlow).

Rebuilds explain.onnx for several K (features occluded exactly per row) from the shipped
explain.onnx's own constants (its K = 8 rebuild is checked byte-for-byte on every initializer),
then on real rows:

- agreement with full exact occlusion through model.onnx (models_py.explain.verify: same top
  reason, same top 3 ordered and as a set; every reported impact checked exact),
- cost: minimum thread CPU time per row over --repeat interleaved runs on 4,096 rows in
  256-row pieces (as the UDF runs it), for each K and for session options of the K = 8
  explainer (graph optimisation levels, denormals as zero, memory pattern, arena), beside
  model.onnx on 2,048-row batches.

Run: PYTHONPATH=. python bench/explainer_candidates.py \\
    --model-dir /tmp/score3/art/models/20260427-mlp-a6eb0d8f93 \\
    --features-db /tmp/score3/shop.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_py.explain import Network, build_explainer, verify  # noqa: E402
from scoring.model import session_options  # noqa: E402

OUTS = ["churn_probability", "churn_reason_feature", "churn_reason_impact"]


def network_from_explainer(path: Path) -> tuple[Network, np.ndarray]:
    """The network's constants and medians, read back from an exported explain.onnx."""
    ex = onnx.load(str(path))
    c = {i.name: numpy_helper.to_array(i) for i in ex.graph.initializer}
    meta = {p.key: p.value for p in ex.metadata_props}
    layers = []
    i = 0
    while f"W{i}" in c:
        layers.append((c[f"W{i}"], c[f"b{i}"]))
        i += 1
    net = Network(
        log_mask=c["log_mask"].astype(bool),
        mean=c["mean"],
        inv_std=c["inv_std"],
        clip=float(c["clip_hi"]),
        layers=layers,
        platt=(1.0, 0.0),  # already folded into the last layer
    )
    rebuilt = onnx.load_from_string(
        build_explainer(net, np.asarray(json.loads(meta["feature_medians"])), n_candidates=8)
    )
    for init in rebuilt.graph.initializer:
        if not np.array_equal(numpy_helper.to_array(init), c[init.name]):
            raise SystemExit(f"rebuilt explainer differs from {path} in {init.name}")
    return net, np.asarray(json.loads(meta["feature_medians"]), np.float32)


def session(data: bytes, level: str = "all", **opts: Any) -> ort.InferenceSession:
    o = session_options()
    o.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    }[level]
    if "mem_pattern" in opts:
        o.enable_mem_pattern = opts.pop("mem_pattern")
    if "arena" in opts:
        o.enable_cpu_mem_arena = opts.pop("arena")
    for key, value in opts.items():
        o.add_session_config_entry(key, value)
    return ort.InferenceSession(data, sess_options=o, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--model-dir", required=True, help="artifacts/models/<version>/")
    ap.add_argument("--features-db", required=True, help="DuckDB file with main.scoring_examples")
    ap.add_argument("--rows", type=int, default=5000, help="rows for the agreement check")
    ap.add_argument("--ks", type=int, nargs="+", default=[4, 5, 6, 7, 8, 10], help="K values")
    ap.add_argument("--repeat", type=int, default=40, help="interleaved timing runs")
    args = ap.parse_args(argv)

    mdir = Path(args.model_dir)
    model_bytes = (mdir / "model.onnx").read_bytes()
    shipped = (mdir / "explain.onnx").read_bytes()
    net, med = network_from_explainer(mdir / "explain.onnx")
    with duckdb.connect(args.features_db, read_only=True) as con:
        x = np.array(
            con.sql("select features from main.scoring_examples order by customer_id")
            .fetchnumpy()["features"]
            .tolist(),
            np.float32,
        )
    print(f"# {mdir.name}, {x.shape[0]:,} scoring_examples rows, load {os.getloadavg()}")
    built = {k: build_explainer(net, med, n_candidates=k) for k in args.ks}
    for k in args.ks:
        v = verify(model_bytes, built[k], x[: args.rows], med)
        print(
            f"K={k:2d} on {v['rows']:,} rows: same top reason {v['same_top1']:.2%}, same top 3 "
            f"{v['same_top3']:.2%} (as a set {v['same_top3_set']:.2%}), max impact error "
            f"{v['max_abs_impact_error']:.1e}",
            flush=True,
        )

    xt = x[:4096]
    sessions = {f"K={k}": session(built[k]) for k in args.ks}
    sessions.update(
        {
            "K=8 shipped, ORT_ENABLE_ALL (as the UDF)": session(shipped),
            "K=8 shipped, ORT_ENABLE_EXTENDED": session(shipped, "extended"),
            "K=8 shipped, ORT_ENABLE_BASIC": session(shipped, "basic"),
            "K=8 shipped, denormals as zero": session(
                shipped, **{"session.set_denormal_as_zero": "1"}
            ),
            "K=8 shipped, no memory pattern": session(shipped, mem_pattern=False),
            "K=8 shipped, no arena": session(shipped, arena=False),
        }
    )
    plain = session(model_bytes)
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        t0 = time.thread_time()
        for s in range(0, len(xt), 2048):
            plain.run(["churn_probability"], {"features": xt[s : s + 2048]})
        best["model.onnx, 2,048-row batches"] = min(
            best.get("model.onnx, 2,048-row batches", 9e9), time.thread_time() - t0
        )
        for name, sess in sessions.items():
            t0 = time.thread_time()
            for s in range(0, len(xt), 256):
                sess.run(OUTS, {"features": xt[s : s + 256]})
            best[name] = min(best.get(name, 9e9), time.thread_time() - t0)
    base = best["model.onnx, 2,048-row batches"]
    for name, t in best.items():
        print(f"{name:44s} {t / len(xt) * 1e6:6.2f} us/row  {t / base:5.2f}x model.onnx")
    print(f"# load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
