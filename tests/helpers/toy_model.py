"""Small ONNX models and scoring databases for tests and benchmarks, built without TensorFlow.

The model is an MLP made with `onnx.helper` that follows the contract in docs/interfaces.md:
input `features` float32 [batch, N], output `churn_probability` float32 [batch, 1] and the
metadata keys the scorer reads. With `attribution=True` it also has the optional output
`churn_attribution` float32 [batch, N]: the first-order estimate of
p(x) - p(x with feature i at its training median), computed in the graph by an explicit
backward pass (dp/dx times (x - median)).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import onnx
import pyarrow as pa
from onnx import TensorProto, helper, numpy_helper

from models_py.explain import Network, build_explainer

OPSET = 17
DEFAULT_THRESHOLDS = {"high": 0.6, "medium": 0.4}


def feature_list(n: int) -> list[str]:
    """Return `n` plausible feature names (unique, stable)."""
    base = [
        "days_since_last_order",
        "orders_90d",
        "revenue_90d",
        "avg_order_value",
        "support_tickets_90d",
        "email_open_rate_90d",
    ]
    names = base[:n]
    names += [f"feature_{i:03d}" for i in range(len(names), n)]
    return names


@dataclass
class ToyModel:
    """A built model: its path, hash and what the registry row needs."""

    path: Path
    sha256: str
    version: str
    feature_names: list[str]
    medians: list[float]
    thresholds: dict[str, float]
    weights: list[tuple[np.ndarray, np.ndarray]]

    def reference(self, x: np.ndarray) -> np.ndarray:
        """Numpy forward pass of the same MLP (float64), for sanity checks."""
        h = x.astype(np.float64)
        for i, (w, b) in enumerate(self.weights):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-h[:, 0]))


def build_mlp(
    feature_names: Sequence[str],
    hidden: Sequence[int] = (64, 32),
    *,
    seed: int = 0,
    version: str = "toy-v1",
    medians: Sequence[float] | None = None,
    thresholds: dict[str, float] | None = None,
    attribution: bool = False,
    metadata_feature_names: Sequence[str] | None = None,
    input_width: int | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> tuple[onnx.ModelProto, list[tuple[np.ndarray, np.ndarray]], list[float]]:
    """Build an MLP `features -> (MatMul, Add, Relu)* -> MatMul, Add -> Sigmoid`.

    Args:
        feature_names: Ordered feature list; N = its length.
        hidden: Hidden layer widths.
        seed: Weight seed.
        version: Stamped as `model_version` metadata.
        medians: Training medians (defaults to zeros).
        thresholds: Risk thresholds (defaults to DEFAULT_THRESHOLDS).
        attribution: Also output `churn_attribution` [batch, N].
        metadata_feature_names: Override the stamped feature names (to build bad models).
        input_width: Override the graph's input width (to build bad models).
        extra_metadata: More metadata_props.

    Returns:
        The model, its weights as (W, b) pairs and the medians.
    """
    n = len(feature_names)
    width = input_width if input_width is not None else n
    rng = np.random.default_rng(seed)
    med = [0.0] * n if medians is None else [float(m) for m in medians]
    sizes = [width, *hidden, 1]
    weights: list[tuple[np.ndarray, np.ndarray]] = []
    for a, b in itertools.pairwise(sizes):
        w = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        bias = (rng.standard_normal(b) * 0.1).astype(np.float32)
        weights.append((w, bias))

    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    cur = "features"
    relus: list[str] = []
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"]),
            helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"]),
        ]
        if i < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [f"z{i}"], [f"h{i}"]))
            relus.append(f"h{i}")
            cur = f"h{i}"
    last = len(weights) - 1
    nodes.append(helper.make_node("Sigmoid", [f"z{last}"], ["churn_probability"]))
    outputs = [helper.make_tensor_value_info("churn_probability", TensorProto.FLOAT, [None, 1])]

    if attribution:
        # dp/dz_last = p (1 - p); walk back through the layers; relu'(z) = sign(relu(z)).
        inits += [
            numpy_helper.from_array(np.array(1.0, np.float32), "one"),
            numpy_helper.from_array(np.asarray(med, np.float32), "medians"),
        ]
        nodes += [
            helper.make_node("Sub", ["one", "churn_probability"], ["one_minus_p"]),
            helper.make_node("Mul", ["churn_probability", "one_minus_p"], ["g_z" + str(last)]),
        ]
        for i in range(last, 0, -1):
            inits.append(numpy_helper.from_array(np.ascontiguousarray(weights[i][0].T), f"W{i}T"))
            # the output layer has width 1: [B, 1] x [1, h] is a broadcast Mul, not a MatMul
            op = "Mul" if i == last else "MatMul"
            nodes += [
                helper.make_node(op, [f"g_z{i}", f"W{i}T"], [f"g_h{i - 1}"]),
                helper.make_node("Sign", [f"h{i - 1}"], [f"mask{i - 1}"]),
                helper.make_node("Mul", [f"g_h{i - 1}", f"mask{i - 1}"], [f"g_z{i - 1}"]),
            ]
        inits.append(numpy_helper.from_array(np.ascontiguousarray(weights[0][0].T), "W0T"))
        nodes += [
            helper.make_node("MatMul", ["g_z0", "W0T"], ["g_x"]),
            helper.make_node("Sub", ["features", "medians"], ["delta"]),
            helper.make_node("Mul", ["g_x", "delta"], ["churn_attribution"]),
        ]
        outputs.append(
            helper.make_tensor_value_info("churn_attribution", TensorProto.FLOAT, [None, n])
        )

    graph = helper.make_graph(
        nodes,
        "churn_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="churnwatch-tests"
    )
    model.ir_version = 8
    meta_names = list(feature_names if metadata_feature_names is None else metadata_feature_names)
    meta = {
        "model_version": version,
        "feature_names": json.dumps(meta_names),
        "churn_horizon_days": "30",
        "active_window_days": "180",
        "train_start_date": "2024-01-01",
        "train_end_date": "2024-06-30",
        "thresholds": json.dumps(thresholds or DEFAULT_THRESHOLDS),
        "feature_medians": json.dumps(med),
        **(extra_metadata or {}),
    }
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model, weights, med


def write_model(
    directory: Path,
    feature_names: Sequence[str],
    hidden: Sequence[int] = (64, 32),
    *,
    version: str = "toy-v1",
    seed: int = 0,
    medians: Sequence[float] | None = None,
    thresholds: dict[str, float] | None = None,
    attribution: bool = False,
    metadata_feature_names: Sequence[str] | None = None,
    input_width: int | None = None,
    explainer: bool | str = False,
    n_candidates: int = 8,
) -> ToyModel:
    """Build a model and write it to `directory/<version>/model.onnx`.

    With `explainer=True` (or "attribution") the model has no attribution output; the same
    network with the `churn_attribution` output is written next to it as `explain.onnx`, and
    the model's metadata names it (`explainer_file`) with its sha256 (`explainer_sha256`).
    With `explainer="reasons"` the explainer is the one training exports
    (models_py.explain.build_explainer: top reasons, exact occlusion of `n_candidates`).
    """
    kwargs: dict[str, object] = {
        "seed": seed,
        "version": version,
        "medians": medians,
        "thresholds": thresholds,
        "metadata_feature_names": metadata_feature_names,
        "input_width": input_width,
    }
    path = Path(directory) / version / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, str] = {}
    if explainer == "reasons":
        _, w_, med_ = build_mlp(feature_names, hidden, **kwargs)  # type: ignore[arg-type]
        expl_bytes = build_explainer(
            toy_network(w_), med_, n_candidates=n_candidates, metadata={"model_version": version}
        )
    elif explainer:
        expl, _, _ = build_mlp(feature_names, hidden, attribution=True, **kwargs)  # type: ignore[arg-type]
        expl_bytes = expl.SerializeToString()
    if explainer:
        (path.parent / "explain.onnx").write_bytes(expl_bytes)
        extra = {
            "explainer_file": "explain.onnx",
            "explainer_sha256": hashlib.sha256(expl_bytes).hexdigest(),
        }
    model, weights, med = build_mlp(
        feature_names,
        hidden,
        attribution=attribution,
        extra_metadata=extra,
        **kwargs,  # type: ignore[arg-type]
    )
    data = model.SerializeToString()
    path.write_bytes(data)
    return ToyModel(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        version=version,
        feature_names=list(feature_names),
        medians=med,
        thresholds=dict(thresholds or DEFAULT_THRESHOLDS),
        weights=weights,
    )


def toy_network(weights: list[tuple[np.ndarray, np.ndarray]]) -> Network:
    """The toy MLP as a models_py.explain.Network (no preprocessing, no Platt scaling)."""
    n = weights[0][0].shape[0]
    return Network(
        log_mask=np.zeros(n, bool),
        mean=np.zeros(n, np.float32),
        inv_std=np.ones(n, np.float32),
        clip=3.0e38,
        layers=weights,
        platt=(1.0, 0.0),
    )


REGISTRY_DDL = """
create table if not exists main.model_registry (
    model_version varchar primary key,
    created_at timestamp,
    algorithm varchar,
    feature_names varchar[],
    churn_horizon_days integer,
    active_window_days integer,
    train_start_date date,
    train_end_date date,
    test_start_date date,
    test_end_date date,
    metrics json,
    thresholds json,
    onnx_path varchar,
    onnx_sha256 varchar,
    status varchar
)
"""


def register_in_registry(
    con: duckdb.DuckDBPyConnection,
    model: ToyModel,
    *,
    status: str = "active",
    feature_names: Sequence[str] | None = None,
    sha256: str | None = None,
) -> None:
    """Insert `model` into `main.model_registry` (created if missing)."""
    con.execute(REGISTRY_DDL)
    if status == "active":
        con.execute("update main.model_registry set status = 'retired' where status = 'active'")
    con.execute(
        """
        insert into main.model_registry values (
            ?, now()::timestamp, 'mlp', ?, 30, 180, date '2024-01-01', date '2024-06-30',
            date '2024-07-01', date '2024-07-31', '{"auc": 0.5}', ?, ?, ?, ?
        )
        """,
        [
            model.version,
            list(feature_names if feature_names is not None else model.feature_names),
            json.dumps(model.thresholds),
            str(model.path),
            sha256 or model.sha256,
            status,
        ],
    )


def create_feature_catalog(con: duckdb.DuckDBPyConnection, feature_names: Sequence[str]) -> None:
    """(Re)create `main.feature_catalog(position, feature_name)`."""
    con.execute(
        "create or replace table main.feature_catalog (position integer, feature_name varchar)"
    )
    con.executemany(
        "insert into main.feature_catalog values (?, ?)",
        [[i + 1, name] for i, name in enumerate(feature_names)],
    )


def create_scoring_examples(
    con: duckdb.DuckDBPyConnection,
    feature_names: Sequence[str],
    n_rows: int,
    *,
    seed: int = 1,
    as_of_date: str = "2024-08-01",
    table: str = "main.scoring_examples",
) -> np.ndarray:
    """Create a scoring_examples table with one DOUBLE column per feature and `features FLOAT[N]`.

    Returns:
        The float32 feature matrix [n_rows, N] in row order of `customer_id`.
    """
    n = len(feature_names)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n)).astype(np.float32)
    cols = ", ".join(f'x[{i + 1}]::double as "{name}"' for i, name in enumerate(feature_names))
    toy_x = pa.table(
        {
            "i": pa.array(np.arange(n_rows, dtype=np.int32)),
            "x": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), n),
        }
    )
    con.register("_toy_x", toy_x)
    con.execute(
        f"""
        create or replace table {table} as
        select
            'c' || lpad(i::varchar, 6, '0') as customer_id,
            date '{as_of_date}' as as_of_date,
            {cols},
            x::float[{n}] as features
        from _toy_x
        order by i
        """
    )
    con.unregister("_toy_x")
    return x
