"""The explainer: `explain.onnx`, exported next to model.onnx for fast, exact reason codes.

A reason code's impact is, by definition (docs/interfaces.md),

    impact_i = p(x) - p(x with feature i at its training median).

Computing it for all N features by running the model N + 1 times per customer ("exact
occlusion") costs about N + 1 scores. The explainer computes the same numbers in one pass, by
using the structure of the trained network (models_py/train.py):

    z = clip((where(log_mask, log(max(x, 0) + 1), x) - mean) * inv_std, -CLIP, CLIP)
    h_0 = z W_0 + b_0, a_0 = relu(h_0), ..., logit = a_{L-1} W_L + b_L
    p = sigmoid(platt_a * logit + platt_b)

The preprocessing is per feature, so occluding feature i changes z_i only, by
dz_i = z_i(x_i) - z_i(median_i), and the first affine layer changes by the rank-one term
dz_i * W_0[i, :]. Hence:

- Logistic regression (no hidden layer): the occluded logit is `logit - dz_i * w_i`, so every
  impact_i = p - sigmoid(logit - dz_i w_i) is computed exactly, in closed form, for all N
  features at once (element-wise [batch, N] work, about the cost of one score).
- MLP: the first-order change of the logit, dz_i * dlogit/dz_i (a gradient taken in the
  standardised space, where occlusion is exact), ranks the features; the top K candidates
  (default 8) are then occluded exactly: h_0 - dz_i W_0[i, :] for each candidate, pushed through
  the remaining layers. Every reported impact is the exact occlusion impact of that feature; the
  approximation is only which features are candidates (a feature outside the gradient's top K
  cannot be reported). The measured agreement with full exact occlusion is in
  bench/RESULTS_scoring.md and in each model's metrics (`explainer`).

Outputs (beside `churn_probability` [batch, 1], identical to model.onnx's up to float rounding):
`churn_reason_feature` int64 [batch, R] (0-based feature positions) and `churn_reason_impact`
float32 [batch, R], R = min(3, N), sorted by impact, largest first; impacts <= 0 are not
reasons (the scorer drops them).

The graph is written with onnx.helper from the Keras weights (no TensorFlow needed here except
to read the weights), so the bytes are deterministic for given weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

EXPLAINER_FILE = "explain.onnx"
INPUT_NAME = "features"
OUTPUT_NAME = "churn_probability"
REASON_FEATURE = "churn_reason_feature"
REASON_IMPACT = "churn_reason_impact"
N_REASONS = 3
DEFAULT_CANDIDATES = 8
OPSET = 17
# |reported impact - exact occlusion through model.onnx| allowed at export
EXACT_TOLERANCE = 1e-5


class ExplainerError(RuntimeError):
    """The explainer cannot be built or does not reproduce the model."""


@dataclass(frozen=True)
class Network:
    """The trained network's constants, as the explainer needs them.

    Attributes:
        log_mask: bool [N], features that get log1p.
        mean: float32 [N], standardisation mean (after log1p).
        inv_std: float32 [N], 1 / standard deviation.
        clip: Standardised values are clipped to [-clip, clip].
        layers: (W [in, out], b [out]) float32 per Dense layer; relu after all but the last,
            the last has one output (the logit).
        platt: (a, b): p = sigmoid(a * logit + b).
    """

    log_mask: np.ndarray
    mean: np.ndarray
    inv_std: np.ndarray
    clip: float
    layers: list[tuple[np.ndarray, np.ndarray]]
    platt: tuple[float, float]

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    @property
    def algorithm(self) -> str:
        return "logreg" if len(self.layers) == 1 else "mlp"

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """z for a float32 matrix (float32 arithmetic, as in the graph)."""
        x = np.asarray(x, np.float32)
        logged = np.log(np.maximum(x, np.float32(0)) + np.float32(1))
        t = np.where(self.log_mask, logged, x)
        return np.clip((t - self.mean) * self.inv_std, -self.clip, self.clip).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Churn probability [rows] in numpy (float64 after preprocessing), for checks."""
        h: np.ndarray = self.preprocess(x).astype(np.float64)
        for i, (w, bias) in enumerate(self.layers):
            h = h @ w.astype(np.float64) + bias
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * h[:, 0] + b)))


def network_from_keras(model: Any, clip: float) -> Network:
    """Read the constants of a calibrated churnwatch Keras model (train.calibrated_model).

    Expects the layers built by train.build_model: `preprocess`, `hidden_<k>` (relu Dense,
    optional Dropout in between), `logit` (Dense 1, linear) and `churn_probability` (Dense 1,
    sigmoid, the Platt scaling).

    Raises:
        ExplainerError: The model has another structure.
    """
    import keras

    pre = model.get_layer("preprocess")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    k = 1
    while True:
        try:
            dense = model.get_layer(f"hidden_{k}")
        except ValueError:
            break
        if dense.get_config().get("activation") != "relu":
            raise ExplainerError(f"hidden_{k} must be relu")
        w, b = dense.get_weights()
        layers.append((w, b))
        k += 1
    logit = model.get_layer("logit")
    if logit.get_config().get("activation") != "linear":
        raise ExplainerError("the logit layer must be linear")
    w, b = logit.get_weights()
    layers.append((w, b))
    cal = model.get_layer(OUTPUT_NAME)
    if cal.get_config().get("activation") != "sigmoid":
        raise ExplainerError(f"{OUTPUT_NAME} must be a sigmoid Dense(1)")
    ca, cb = cal.get_weights()
    dense_names = {f"hidden_{i}" for i in range(1, k)} | {"logit", OUTPUT_NAME, "preprocess"}
    others = [
        layer.name
        for layer in model.layers
        if layer.name not in dense_names
        and not isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout))
    ]
    if others:
        raise ExplainerError(f"unexpected layers for the explainer: {others}")
    return Network(
        log_mask=np.asarray(keras.ops.convert_to_numpy(pre.log_mask)).astype(bool),
        mean=np.asarray(keras.ops.convert_to_numpy(pre.mean), np.float32),
        inv_std=np.asarray(keras.ops.convert_to_numpy(pre.inv_std), np.float32),
        clip=float(clip),
        layers=[(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers],
        platt=(float(ca.reshape(-1)[0]), float(cb.reshape(-1)[0])),
    )


def method_description(net: Network, n_candidates: int = DEFAULT_CANDIDATES) -> str:
    """What the explainer computes, for metadata and the model card."""
    n = net.n_features
    k = max(min(N_REASONS, n), min(int(n_candidates), n))
    if net.algorithm == "logreg":
        return "exact occlusion of all features (closed form)"
    if k >= n:
        return "exact occlusion of all features"
    return (
        f"exact occlusion of the top {k} of {n} features by gradient x "
        "(standardised value - standardised median)"
    )


def build_explainer(
    net: Network,
    medians: Any,
    *,
    n_candidates: int = DEFAULT_CANDIDATES,
    metadata: dict[str, str] | None = None,
) -> bytes:
    """The explainer ONNX model (bytes, deterministic for given inputs).

    Args:
        net: The network's constants (network_from_keras).
        medians: Training medians, one per feature (the occlusion values).
        n_candidates: K, features occluded exactly per row for an MLP (all N for logreg).
        metadata: metadata_props to stamp (e.g. model_version).

    Returns:
        Serialized ONNX model with input `features` and outputs `churn_probability`,
        `churn_reason_feature`, `churn_reason_impact`.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = net.n_features
    med = np.asarray(medians, np.float32).reshape(-1)
    if med.shape[0] != n:
        raise ExplainerError(f"{med.shape[0]} medians for {n} features")
    r = min(N_REASONS, n)
    n_hidden = len(net.layers) - 1
    k = n if n_hidden == 0 else max(r, min(int(n_candidates), n))
    a, b = net.platt
    # fold the Platt scaling into the last layer: p = sigmoid(a_L W_L' + b_L')
    w_last = (net.layers[-1][0].astype(np.float64) * a).astype(np.float32)
    b_last = (net.layers[-1][1].astype(np.float64) * a + b).astype(np.float32)
    layers = [*net.layers[:-1], (w_last, b_last)]
    z_med = net.preprocess(med[None, :])[0]

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    # preprocessing, as train.Preprocess does it
    const("zero", 0.0)
    const("one", 1.0)
    node("Max", ["features", "zero"], "x_pos")
    node("Add", ["x_pos", "one"], "x_pos1")
    node("Log", ["x_pos1"], "x_log")
    const("log_mask", net.log_mask.astype(bool), bool)
    node("Where", ["log_mask", "x_log", "features"], "x_t")
    node("Sub", ["x_t", const("mean", net.mean)], "x_c")
    node("Mul", ["x_c", const("inv_std", net.inv_std)], "x_s")
    node("Clip", ["x_s", const("clip_lo", -net.clip), const("clip_hi", net.clip)], "z")
    node("Sub", ["z", const("z_median", z_med)], "dz")  # [B, N]

    # forward
    cur = "z"
    pre_acts: list[str] = []
    for i, (w, bias) in enumerate(layers):
        const(f"W{i}", w)
        const(f"b{i}", bias)
        node("MatMul", [cur, f"W{i}"], f"mm{i}")
        h = node("Add", [f"mm{i}", f"b{i}"], f"h{i}")
        pre_acts.append(h)
        if i < n_hidden:
            cur = node("Relu", [h], f"a{i}")
    logit = pre_acts[-1]  # [B, 1], calibrated logit
    node("Sigmoid", [logit], OUTPUT_NAME)

    if n_hidden == 0:
        # logistic regression: occluded logit = logit - dz_i w_i, exact for every feature
        const("w_row", w_last.reshape(1, n))
        node("Mul", ["dz", "w_row"], "d_logit")  # [B, N]
        node("Sub", [logit, "d_logit"], "logit_occ")
        node("Sigmoid", ["logit_occ"], "p_occ")
        node("Sub", [OUTPUT_NAME, "p_occ"], "impact_all")  # [B, N]
        const("r", np.array([r]), np.int64)
        nodes.append(
            helper.make_node(
                "TopK", ["impact_all", "r"], [REASON_IMPACT, REASON_FEATURE], axis=1, name="top_r"
            )
        )
    else:
        # gradient of the logit with respect to z (relu' = 1 where the pre-activation > 0)
        g = const("g_last", w_last.reshape(1, -1))  # d logit / d a_{L-1}: [1, H]
        for i in range(n_hidden - 1, -1, -1):
            node("Greater", [pre_acts[i], "zero"], f"on{i}")
            node("Cast", [f"on{i}"], f"mask{i}", to=TensorProto.FLOAT)
            g = node("Mul", [g, f"mask{i}"], f"g_h{i}")  # d logit / d h_i
            const(f"W{i}T", np.ascontiguousarray(layers[i][0].T))
            g = node("MatMul", [g, f"W{i}T"], f"g_in{i}")  # d logit / d input of layer i
        node("Mul", [g, "dz"], "first_order")  # [B, N]: first-order drop of the logit
        const("k", np.array([k]), np.int64)
        nodes.append(
            helper.make_node(
                "TopK", ["first_order", "k"], ["cand_score", "cand"], axis=1, name="top_k"
            )
        )
        node("GatherElements", ["dz", "cand"], "dz_c", axis=1)  # [B, K]
        node("Gather", ["W0", "cand"], "w0_c", axis=0)  # [B, K, H0]
        const("ax_1", np.array([1]), np.int64)
        const("ax_2", np.array([2]), np.int64)
        node("Unsqueeze", ["dz_c", "ax_2"], "dz_c3")
        node("Mul", ["dz_c3", "w0_c"], "dh0")
        node("Unsqueeze", [pre_acts[0], "ax_1"], "h0_3")  # [B, 1, H0]
        node("Sub", ["h0_3", "dh0"], "occ_h0")  # [B, K, H0]
        # one 2-D GEMM per layer over the B*K occluded rows
        const("rows_2d", np.array([-1, layers[0][0].shape[1]]), np.int64)
        h = node("Reshape", ["occ_h0", "rows_2d"], "occ_h0_2d")
        for i in range(1, len(layers)):
            act = node("Relu", [h], f"occ_a{i - 1}")
            node("MatMul", [act, f"W{i}"], f"occ_mm{i}")
            h = node("Add", [f"occ_mm{i}", f"b{i}"], f"occ_h{i}")
        const("shape_bk", np.array([-1, k]), np.int64)
        node("Reshape", [h, "shape_bk"], "logit_occ")  # [B, K]
        node("Sigmoid", ["logit_occ"], "p_occ")
        node("Sub", [OUTPUT_NAME, "p_occ"], "impact_c")  # [B, K], exact
        const("r", np.array([r]), np.int64)
        nodes.append(
            helper.make_node(
                "TopK", ["impact_c", "r"], [REASON_IMPACT, "pos"], axis=1, name="top_r"
            )
        )
        node("GatherElements", ["cand", "pos"], REASON_FEATURE, axis=1)

    graph = helper.make_graph(
        nodes,
        "churnwatch_explainer",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", n])],
        [
            helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 1]),
            helper.make_tensor_value_info(REASON_FEATURE, TensorProto.INT64, ["batch", r]),
            helper.make_tensor_value_info(REASON_IMPACT, TensorProto.FLOAT, ["batch", r]),
        ],
        initializer=inits,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="churnwatch"
    )
    proto.ir_version = 8
    meta = {
        "explainer_method": method_description(net, k),
        "explainer_candidates": str(k),
        "feature_medians": json.dumps([float(v) for v in med]),
        **(metadata or {}),
    }
    helper.set_model_props(proto, {key: meta[key] for key in sorted(meta)})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def explain(
    explainer: bytes | Any, X: np.ndarray, batch_size: int = 8192
) -> tuple[np.ndarray, ...]:
    """Run the explainer: (p [rows], feature [rows, R] int64, impact [rows, R] float32)."""
    sess = _session(explainer) if isinstance(explainer, bytes) else explainer
    X = np.ascontiguousarray(X, np.float32)
    parts = [
        sess.run([OUTPUT_NAME, REASON_FEATURE, REASON_IMPACT], {INPUT_NAME: X[s : s + batch_size]})
        for s in range(0, len(X), batch_size)
    ]
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(3))  # type: ignore[return-value]


def occlusion_impacts(model: bytes | Any, X: np.ndarray, medians: Any) -> tuple[np.ndarray, ...]:
    """Exact occlusion through the model itself: (p [rows], impact [rows, N]), float32."""
    sess = _session(model) if isinstance(model, bytes) else model
    X = np.ascontiguousarray(X, np.float32)
    med = np.asarray(medians, np.float32)
    rows, n = X.shape
    tiled = np.empty((n + 1, rows, n), np.float32)
    tiled[:] = X
    tiled[np.arange(1, n + 1), :, np.arange(n)] = med[:, None]
    flat = tiled.reshape(-1, n)
    out = np.concatenate(
        [
            sess.run([OUTPUT_NAME], {INPUT_NAME: flat[s : s + 65536]})[0].reshape(-1)
            for s in range(0, len(flat), 65536)
        ]
    ).reshape(n + 1, rows)
    return out[0], (out[0][None, :] - out[1:]).T


def top_positive(impact: np.ndarray, k: int = N_REASONS) -> list[tuple[int, ...]]:
    """Per row, the features of the (at most) k largest positive impacts, largest first."""
    order = np.argsort(-impact, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(impact, order, axis=1)
    return [
        tuple(int(c) for c, v in zip(o, vs, strict=True) if v > 0)
        for o, vs in zip(order, vals, strict=True)
    ]


def verify(
    model: bytes, explainer: bytes, X: np.ndarray, medians: Any, tolerance: float = EXACT_TOLERANCE
) -> dict[str, Any]:
    """Check the explainer against exact occlusion through model.onnx on rows X.

    Every reported impact must equal the exact occlusion impact of its feature (within
    `tolerance`), and the probability must equal model.onnx's. Also measures how often the
    explainer's reasons equal those of full exact occlusion.

    Returns:
        {"rows", "max_abs_impact_error", "max_abs_p_error", "same_top1", "same_top3",
         "same_top3_set"} (fractions of rows).

    Raises:
        ExplainerError: A reported impact or the probability is off by more than `tolerance`.
    """
    if len(X) == 0:
        return {"rows": 0}
    p_exp, feat, imp = explain(explainer, X)
    p_occ, exact = occlusion_impacts(model, X, medians)
    p_err = float(np.max(np.abs(p_exp.reshape(-1) - p_occ)))
    imp_err = float(np.max(np.abs(np.take_along_axis(exact, feat, axis=1) - imp)))
    if p_err > tolerance or imp_err > tolerance:
        raise ExplainerError(
            f"explainer differs from exact occlusion through model.onnx: probability by "
            f"{p_err:.2e}, reported impacts by {imp_err:.2e} (tolerance {tolerance:.0e})"
        )
    # reasons as the scorer reports them: only positive impacts
    got = [
        tuple(int(c) for c, v in zip(f, i, strict=True) if v > 0)
        for f, i in zip(feat, imp, strict=True)
    ]
    want = top_positive(exact, feat.shape[1])
    return {
        "rows": int(len(X)),
        "max_abs_p_error": p_err,
        "max_abs_impact_error": imp_err,
        "same_top1": float(np.mean([g[:1] == w[:1] for g, w in zip(got, want, strict=True)])),
        "same_top3": float(np.mean([g == w for g, w in zip(got, want, strict=True)])),
        "same_top3_set": float(
            np.mean([set(g) == set(w) for g, w in zip(got, want, strict=True)])
        ),
    }
