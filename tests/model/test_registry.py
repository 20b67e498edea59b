"""Registry rules with tiny hand-built ONNX models (no TensorFlow): the gate, --force,
promote/rollback, and refusing a model trained for another feature list or horizon."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from models_py import registry
from models_py.registry import Candidate, IncompatibleModelError, NoActiveModelError

NAMES = ["days_since_last_order", "orders_90d", "noise_00"]


def logistic_onnx(weights: list[float], bias: float = 0.0) -> bytes:
    """features [batch, N] -> sigmoid(features @ w + b) as churn_probability [batch, 1]."""
    n = len(weights)
    w = helper.make_tensor("w", TensorProto.FLOAT, [n, 1], weights)
    b = helper.make_tensor("b", TensorProto.FLOAT, [1], [bias])
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["z0"]),
        helper.make_node("Add", ["z0", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["churn_probability"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", n])],
        [helper.make_tensor_value_info("churn_probability", TensorProto.FLOAT, ["batch", 1])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture()
def test_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=2000) > 0.5).astype(np.int8)
    return X, y


def candidate(version: str, weights: list[float], *, names=NAMES, horizon=30) -> Candidate:
    return Candidate(
        model_version=version,
        algorithm="logreg",
        feature_names=list(names),
        churn_horizon_days=horizon,
        active_window_days=180,
        train_start_date=dt.date(2024, 1, 1),
        train_end_date=dt.date(2024, 5, 6),
        test_start_date=dt.date(2024, 7, 22),
        test_end_date=dt.date(2024, 7, 22),
        metrics={"test": {"pr_auc": None}},
        thresholds={"high": 0.7, "medium": 0.4},
        onnx_bytes=logistic_onnx(weights),
    )


@pytest.fixture()
def con():
    c = duckdb.connect()
    yield c
    c.close()


def statuses(con) -> dict[str, str]:
    return {r.model_version: r.status for r in registry.list_models(con)}


def test_refuses_worse_model_and_force_overrides(con, tmp_path, test_data):
    X, y = test_data
    good = registry.register(con, candidate("good", [3, 0, 0]), X, y, artifacts=tmp_path)
    assert good.status == "active" and good.reason == "no active model"
    bad = registry.register(con, candidate("bad", [0, 0, 3]), X, y, artifacts=tmp_path)
    assert bad.status == "rejected"
    assert "worse than active good" in bad.reason
    assert bad.comparison["active_pr_auc"] > bad.comparison["candidate_pr_auc"] + 0.1
    assert statuses(con) == {"good": "active", "bad": "rejected"}
    assert (tmp_path / "models" / "bad" / "model.onnx").is_file()  # kept for inspection

    forced = registry.register(
        con, candidate("bad", [0, 0, 3]), X, y, artifacts=tmp_path, force=True
    )
    assert forced.status == "active" and forced.reason.startswith("forced")
    assert statuses(con) == {"good": "retired", "bad": "active"}


def test_equal_or_better_model_replaces_active(con, tmp_path, test_data):
    X, y = test_data
    registry.register(con, candidate("v1", [1, 0, 0]), X, y, artifacts=tmp_path)
    r = registry.register(con, candidate("v2", [2, 0.01, 0]), X, y, artifacts=tmp_path)
    assert r.status == "active"
    assert statuses(con) == {"v1": "retired", "v2": "active"}
    r3 = registry.register(
        con, candidate("v3", [3, 0, 0]), X, y, artifacts=tmp_path, activate=False
    )
    assert r3.status == "candidate"
    assert statuses(con)["v2"] == "active"


def test_promote_and_rollback(con, tmp_path, test_data):
    X, y = test_data
    for i, v in enumerate(["a", "b", "c"]):
        registry.register(con, candidate(v, [1 + i, 0, 0]), X, y, artifacts=tmp_path)
    assert statuses(con) == {"a": "retired", "b": "retired", "c": "active"}
    assert registry.rollback(con).model_version == "b"
    assert statuses(con) == {"a": "retired", "b": "active", "c": "retired"}
    assert registry.rollback(con).model_version == "a"
    with pytest.raises(registry.RegistryError, match="no retired model"):
        registry.rollback(con)
    registry.promote(con, "c")
    assert statuses(con) == {"a": "retired", "b": "retired", "c": "active"}
    with pytest.raises(registry.RegistryError, match="no model 'zzz'"):
        registry.promote(con, "zzz")


def test_registry_row_matches_contract(con, tmp_path, test_data):
    X, y = test_data
    registry.register(con, candidate("v1", [1, 0, 0]), X, y, artifacts=tmp_path)
    cols = con.execute("describe main.model_registry").fetchall()
    assert [(c[0], c[1]) for c in cols] == [
        ("model_version", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
        ("algorithm", "VARCHAR"),
        ("feature_names", "VARCHAR[]"),
        ("churn_horizon_days", "INTEGER"),
        ("active_window_days", "INTEGER"),
        ("train_start_date", "DATE"),
        ("train_end_date", "DATE"),
        ("test_start_date", "DATE"),
        ("test_end_date", "DATE"),
        ("metrics", "JSON"),
        ("thresholds", "JSON"),
        ("onnx_path", "VARCHAR"),
        ("onnx_sha256", "VARCHAR"),
        ("status", "VARCHAR"),
    ]
    rec = registry.get_model(con, "v1")
    assert rec.thresholds == {"high": 0.7, "medium": 0.4}
    assert rec.onnx_path == str(tmp_path.resolve() / "models" / "v1" / "model.onnx")
    import hashlib

    assert rec.onnx_sha256 == hashlib.sha256(Path(rec.onnx_path).read_bytes()).hexdigest()


def test_active_model_refuses_other_horizon_or_features(con, tmp_path, test_data):
    X, y = test_data
    with pytest.raises(NoActiveModelError, match="churnwatch train"):
        registry.active_model(con, NAMES, 30)
    registry.register(con, candidate("h90", [1, 0, 0], horizon=90), X, y, artifacts=tmp_path)
    assert registry.active_model(con, NAMES, 90).model_version == "h90"
    with pytest.raises(IncompatibleModelError) as err:
        registry.active_model(con, NAMES, 30)
    assert str(err.value) == (
        "model h90 was trained for horizon 90 days, the project is configured for 30: "
        "run `churnwatch train`"
    )
    with pytest.raises(IncompatibleModelError, match=r"missing \['tickets'\]"):
        registry.active_model(con, NAMES + ["tickets"], 90)
    with pytest.raises(IncompatibleModelError, match="different order"):
        registry.active_model(con, list(reversed(NAMES)), 90)


def test_incompatible_active_model_does_not_block_a_new_one(con, tmp_path, test_data):
    X, y = test_data
    registry.register(con, candidate("h90", [5, 0, 0], horizon=90), X, y, artifacts=tmp_path)
    r = registry.register(con, candidate("h30", [0, 0, 1]), X, y, artifacts=tmp_path)
    assert r.status == "active" and "incompatible" in r.reason
    assert registry.active_model(con, NAMES, 30).model_version == "h30"


def test_changed_onnx_file_is_not_used(con, tmp_path, test_data):
    X, y = test_data
    rec = registry.register(con, candidate("v1", [1, 0, 0]), X, y, artifacts=tmp_path).record
    with open(rec.onnx_path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(IncompatibleModelError, match="has changed"):
        registry.active_model(con, NAMES, 30)


def test_explainer_is_written_and_checked(con, tmp_path, test_data):
    """A candidate's explainer lands next to model.onnx; a changed explainer makes the model
    unusable (model.onnx's metadata holds its sha256), and promote refuses it."""
    import hashlib

    X, y = test_data
    explainer = logistic_onnx([1, 0, 0])
    model = onnx.load_from_string(logistic_onnx([1, 0, 0]))
    onnx.helper.set_model_props(
        model,
        {
            "explainer_file": "explain.onnx",
            "explainer_sha256": hashlib.sha256(explainer).hexdigest(),
        },
    )
    cand = dataclasses.replace(
        candidate("v1", [1, 0, 0]),
        onnx_bytes=model.SerializeToString(),
        explainer_bytes=explainer,
    )
    rec = registry.register(con, cand, X, y, artifacts=tmp_path).record
    epath = Path(rec.onnx_path).parent / "explain.onnx"
    assert epath.read_bytes() == explainer
    assert registry.active_model(con, NAMES, 30).model_version == "v1"
    registry.register(con, candidate("v2", [1, 0, 0]), X, y, artifacts=tmp_path)
    epath.write_bytes(explainer + b"\0")
    with pytest.raises(registry.RegistryError, match="explainer .* has changed"):
        registry.promote(con, "v1")
    epath.unlink()
    with pytest.raises(registry.RegistryError, match="explainer .* is missing"):
        registry.promote(con, "v1")


def test_artifacts_root_option_env_default(monkeypatch, tmp_path):
    monkeypatch.delenv(registry.ARTIFACTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert registry.artifacts_root() == tmp_path.resolve() / "artifacts"
    monkeypatch.setenv(registry.ARTIFACTS_ENV, str(tmp_path / "env"))
    assert registry.artifacts_root() == tmp_path / "env"
    assert registry.artifacts_root(tmp_path / "opt") == tmp_path / "opt"


def test_ensure_model_keeps_compatible_active_model(synthetic_db, tmp_path):
    """No training happens when a compatible model is active (the train module is not used)."""
    from models_py.data import feature_names_from_db, load_training_examples

    with duckdb.connect(str(synthetic_db)) as c:
        names = feature_names_from_db(c)
        ex = load_training_examples(c)
        registry.register(
            c,
            candidate("ok", [0.01] * len(names), names=names),
            ex.X[:100],
            ex.y[:100],
            artifacts=tmp_path,
        )
    messages: list[str] = []
    rec = registry.ensure_model(
        synthetic_db, horizon_days=30, artifacts=tmp_path, log=messages.append
    )
    assert rec.model_version == "ok" and messages == []
