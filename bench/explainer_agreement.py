"""How well do cheap reason codes agree with exact occlusion on real trained models?

Trains the churnwatch candidates (logistic regression and MLP) on a database's
main.training_examples, then, on up to --rows test rows, compares with full exact occlusion
(N + 1 runs of model.onnx per row):

- first-order attribution in the raw feature space, dp/dx * (x - median) (the first proposal),
- first-order in the standardised space, dlogit/dz * (z - z_median),
- the explainer (models_py/explain.py) with K = 3, 4, 6, 8, 12, 16 exactly occluded candidates
  (all N for logistic regression),

and times the explainer against a plain ONNX Runtime score on the same rows.

Run: PYTHONPATH=. python bench/explainer_agreement.py --db /tmp/ex/shop.duckdb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_py import data, explain, export, train  # noqa: E402


def agreement(got: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> str:
    top1 = np.mean([g[:1] == w[:1] for g, w in zip(got, want, strict=True)])
    top3 = np.mean([g == w for g, w in zip(got, want, strict=True)])
    s3 = np.mean([set(g) == set(w) for g, w in zip(got, want, strict=True)])
    return (
        f"same top reason {top1:6.1%}  same top-3 (ordered) {top3:6.1%}  same top-3 set {s3:6.1%}"
    )


def first_order(net: explain.Network, x: np.ndarray, med: np.ndarray, space: str) -> np.ndarray:
    """First-order estimate of the logit drop when each feature goes to its median."""
    import tensorflow as tf

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        mask = tf.constant(net.log_mask)
        t = tf.where(mask, tf.math.log(tf.maximum(xt, 0.0) + 1.0), xt)
        z = tf.clip_by_value((t - net.mean) * net.inv_std, -net.clip, net.clip)
        if space == "z":
            tape.watch(z)
        h = z
        for i, (w, b) in enumerate(net.layers):
            h = h @ w + b
            if i < len(net.layers) - 1:
                h = tf.nn.relu(h)
        a, b = net.platt
        out = tf.sigmoid(a * h + b) if space == "x" else a * h
    g = tape.gradient(out, xt if space == "x" else z).numpy()
    if space == "x":
        return g * (x - med)
    return g * (net.preprocess(x) - net.preprocess(med[None, :]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--max-epochs", type=int, default=15)
    args = ap.parse_args()
    with duckdb.connect(args.db, read_only=True) as con:
        ex = data.load_training_examples(con)
    cfg = train.TrainConfig(max_epochs=args.max_epochs)
    out = train.fit_models(ex, cfg, log=lambda m: None)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(out.test_X), min(args.rows, len(out.test_X)), replace=False))
    X = out.test_X[idx]
    med = np.asarray(out.feature_medians, np.float32)
    n = X.shape[1]
    print(f"# {len(X)} test rows x {n} features; selected {out.algorithm}")
    for alg, res in out.results.items():
        net = explain.network_from_keras(res.export_model, train.CLIP)
        model = export.to_onnx(res.export_model, n, {k: "" for k in export.METADATA_KEYS})
        sess = explain._session(model)
        t0 = time.perf_counter()
        p_occ, exact = explain.occlusion_impacts(sess, X, med)
        t_occ = time.perf_counter() - t0
        want = explain.top_positive(exact)
        hidden = [w.shape[1] for w, _ in net.layers[:-1]]
        print(
            f"\n## {alg} {hidden} (val PR-AUC {res.val_pr_auc:.4f}); exact occlusion {t_occ:.2f}s"
        )
        print(
            f"rows with < 3 positive impacts: {np.mean([len(w) < 3 for w in want]):.1%}; "
            f"median |3rd impact| {np.median(np.sort(exact, axis=1)[:, -3]):.2e}"
        )
        for space in ("x", "z"):
            fo = first_order(net, X, med, space)
            print(
                f"first-order in {space}-space      : {agreement(explain.top_positive(fo), want)}"
            )
        t_plain = min(_time(lambda sess=sess: score(sess, X)) for _ in range(3))
        for k in (n,) if alg == "logreg" else (3, 4, 6, 8, 12, 16):
            ebytes = explain.build_explainer(net, med, n_candidates=k)
            esess = explain._session(ebytes)
            _, feat, imp = explain.explain(esess, X)
            got = [
                tuple(int(c) for c, v in zip(f, i, strict=True) if v > 0)
                for f, i in zip(feat, imp, strict=True)
            ]
            err = float(np.max(np.abs(np.take_along_axis(exact, feat, axis=1) - imp)))
            t_e = min(_time(lambda esess=esess: explain.explain(esess, X)) for _ in range(3))
            print(
                f"explainer K={k:3d}               : {agreement(got, want)}  max |err| {err:.1e}"
                f"  cost {t_e / t_plain:4.2f}x score"
            )
    return 0


def score(sess, X: np.ndarray) -> None:
    for s in range(0, len(X), 8192):
        sess.run(["churn_probability"], {"features": X[s : s + 8192]})


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
