"""Keras -> ONNX export (tf2onnx, opset 17), byte-stable canonical form, metadata and parity.

Only `to_onnx` and `check_parity` import TensorFlow / tf2onnx (inside the function);
`predict_onnx` and `read_metadata` need onnxruntime only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUT_NAME = "features"
OUTPUT_NAME = "churn_probability"
METADATA_KEYS: tuple[str, ...] = (
    "model_version",
    "feature_names",
    "churn_horizon_days",
    "active_window_days",
    "train_start_date",
    "train_end_date",
    "thresholds",
    "feature_medians",
)
PARITY_TOLERANCE = 1e-5
# optional: the explainer written next to model.onnx (models_py/explain.py)
EXPLAINER_FILE_KEY = "explainer_file"
EXPLAINER_SHA_KEY = "explainer_sha256"


class ExportError(RuntimeError):
    """The ONNX model does not have the agreed interface or does not match Keras."""


def to_onnx(model: Any, n_features: int, metadata: dict[str, str]) -> bytes:
    """Convert a Functional Keras model to canonical ONNX bytes with metadata.

    Args:
        model: Functional Keras model, input `features` [None, N] float32, output layer named
            `churn_probability` [None, 1].
        n_features: N.
        metadata: metadata_props (string values); must hold every key of METADATA_KEYS.

    Returns:
        Serialized ONNX model; identical weights and metadata give identical bytes.
    """
    missing = [k for k in METADATA_KEYS if k not in metadata]
    if missing:
        raise ExportError(f"metadata lacks {missing}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, n_features), tf.float32, name=INPUT_NAME),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    canonicalize(proto)
    del proto.metadata_props[:]
    for key in sorted(metadata):
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = str(metadata[key])
    check_interface(proto, n_features)
    return proto.SerializeToString()


def canonicalize(proto: Any) -> None:
    """Rename graph internals so the bytes depend only on the computation, in place.

    tf2onnx names nodes with a process-wide counter and picks arbitrary survivors among equal
    constants, so two conversions of the same model in one process differ in names only. Nodes
    become `NNN_<OpType>`, intermediate tensors `NNN_<OpType>:k`, initializers
    `const_<content hash>` (equal constants merged, sorted by name), symbolic dims `batch`.
    """
    g = proto.graph
    graph_io = {v.name for v in g.input} | {v.name for v in g.output}
    rename: dict[str, str] = {}
    kept: dict[str, Any] = {}
    for init in g.initializer:
        body = type(init)()
        body.CopyFrom(init)
        body.name = ""
        new = "const_" + hashlib.sha256(body.SerializeToString()).hexdigest()[:16]
        rename[init.name] = new
        if new not in kept:
            body.name = new
            kept[new] = body
    for k, node in enumerate(g.node):
        node.name = f"{k:03d}_{node.op_type}"
        for j, out in enumerate(node.output):
            if out and out not in graph_io:
                rename[out] = f"{node.name}:{j}"
    for node in g.node:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
        for j, name in enumerate(node.output):
            node.output[j] = rename.get(name, name)
    for vi in g.value_info:
        vi.name = rename.get(vi.name, vi.name)
    del g.initializer[:]
    g.initializer.extend(kept[k] for k in sorted(kept))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        for dim in vi.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = "batch"
    proto.doc_string = ""
    g.doc_string = ""
    g.name = "churnwatch"


def check_interface(proto: Any, n_features: int) -> None:
    """Raise ExportError unless input/output names, dtypes and shapes are the agreed ones."""
    g = proto.graph
    inputs = [v for v in g.input if v.name not in {i.name for i in g.initializer}]
    if [v.name for v in inputs] != [INPUT_NAME] or [v.name for v in g.output] != [OUTPUT_NAME]:
        raise ExportError(
            f"ONNX inputs {[v.name for v in inputs]} / outputs {[v.name for v in g.output]}: "
            f"expected [{INPUT_NAME!r}] / [{OUTPUT_NAME!r}]"
        )
    for vi, width in ((inputs[0], n_features), (g.output[0], 1)):
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if tt.elem_type != 1 or dims != [None, width]:
            raise ExportError(
                f"{vi.name}: elem_type {tt.elem_type} dims {dims}, want float [None, {width}]"
            )


def _session(model: bytes | str | Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


def predict_onnx(model: bytes | str | Path, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """Churn probabilities [n] from an ONNX model with ONNX Runtime (no TensorFlow).

    Raises:
        ExportError: X is not 2-D or its width differs from the model's input width.
    """
    sess = _session(model)
    inp = sess.get_inputs()[0]
    width = inp.shape[1]
    X = np.asarray(X)
    if X.ndim != 2 or (isinstance(width, int) and X.shape[1] != width):
        raise ExportError(f"model input {inp.name!r} expects [batch, {width}], got {X.shape}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    out = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], batch_size):
        part = sess.run(None, {inp.name: X[start : start + batch_size]})[0]
        out[start : start + batch_size] = part.reshape(-1)
    return out


def read_metadata(model: bytes | str | Path) -> dict[str, str]:
    """The ONNX model's metadata_props as a dict."""
    return dict(_session(model).get_modelmeta().custom_metadata_map)


def check_parity(model: Any, onnx_bytes: bytes, X: np.ndarray) -> float:
    """Max abs difference between Keras and ONNX Runtime outputs on X.

    Raises:
        ExportError: The difference exceeds PARITY_TOLERANCE.
    """
    keras_out = np.asarray(model.predict(X, batch_size=8192, verbose=0), dtype=np.float32)
    onnx_out = predict_onnx(onnx_bytes, X)
    diff = float(np.max(np.abs(keras_out.reshape(-1) - onnx_out))) if len(X) else 0.0
    if diff > PARITY_TOLERANCE:
        raise ExportError(f"ONNX vs Keras max abs diff {diff:.2e} > {PARITY_TOLERANCE:.0e}")
    return diff
