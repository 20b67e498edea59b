"""The exported ONNX model: interface, metadata, parity with Keras, calibration, byte stability."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models_py import export, metrics


def test_parity_with_keras(trained):
    assert trained.parity_max_abs_diff <= 1e-5
    X = np.concatenate([trained.test_X, trained.test_X * 3.0, np.zeros_like(trained.test_X[:5])])
    diff = export.check_parity(trained.export_model, trained.onnx_bytes, X)
    assert diff <= export.PARITY_TOLERANCE


def test_onnx_interface(trained, examples):
    sess = ort.InferenceSession(trained.onnx_bytes, providers=["CPUExecutionProvider"])
    [inp], [out] = sess.get_inputs(), sess.get_outputs()
    n = len(examples.feature_names)
    assert (inp.name, inp.type, inp.shape[1]) == ("features", "tensor(float)", n)
    assert (out.name, out.type, out.shape[1]) == ("churn_probability", "tensor(float)", 1)
    assert not isinstance(inp.shape[0], int)  # dynamic batch
    model = onnx.load_from_string(trained.onnx_bytes)
    assert model.opset_import[0].version == export.OPSET
    p = sess.run(None, {"features": trained.test_X[:7]})[0]
    assert p.shape == (7, 1) and p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1))
    with pytest.raises(export.ExportError, match="expects"):
        export.predict_onnx(trained.onnx_bytes, trained.test_X[:, :-1])


def test_metadata(trained, examples, small_config):
    meta = export.read_metadata(trained.onnx_bytes)
    assert set(export.METADATA_KEYS) <= set(meta)
    assert meta["model_version"] == trained.model_version
    assert json.loads(meta["feature_names"]) == list(examples.feature_names)
    assert meta["churn_horizon_days"] == str(small_config.horizon_days)
    assert meta["active_window_days"] == str(small_config.active_window_days)
    assert meta["train_start_date"] == str(trained.split.train_dates[0])
    # the last snapshot the registered (refitted) model saw, one horizon before the test
    refit = trained.metrics["algorithms"][trained.algorithm]["refit"]
    assert meta["train_end_date"] == refit["snapshots"][1] == str(trained.train_end_date)
    assert (
        trained.train_end_date + dt.timedelta(days=small_config.horizon_days)
        <= trained.split.test_dates[0]
    )
    th = json.loads(meta["thresholds"])
    assert set(th) == {"high", "medium"} and th == trained.thresholds
    assert 0 <= th["medium"] <= th["high"] <= 1
    medians = json.loads(meta["feature_medians"])
    train_mask = trained.split.masks(examples.snapshot_dates)[0]
    np.testing.assert_allclose(medians, np.median(examples.X[train_mask], axis=0), rtol=1e-5)


def test_preprocessing_is_inside_the_graph(trained, examples):
    """Raw heavy-tailed counts go in; the only graph input is `features` and logs are taken."""
    model = onnx.load_from_string(trained.onnx_bytes)
    init = {i.name for i in model.graph.initializer}
    assert [i.name for i in model.graph.input if i.name not in init] == ["features"]
    ops = {n.op_type for n in model.graph.node}
    assert "Log" in ops
    assert "days_since_last_order" in trained.log_features


def test_learns_and_is_calibrated(trained):
    m = trained.metrics["test"]
    assert m["roc_auc"] > 0.75
    assert m["pr_auc"] > m["base_rate"] + 0.15
    assert m["ece"] < 0.1
    # the exported model's metrics equal a recomputation from ONNX Runtime scores
    p = export.predict_onnx(trained.onnx_bytes, trained.test_X)
    assert metrics.pr_auc(trained.test_y, p) == pytest.approx(m["pr_auc"])
    base = trained.metrics["baseline_days_since_last_order"]
    assert base["roc_auc"] is not None and base["roc_auc"] > 0.5


def test_candidate_is_best_on_validation(trained):
    algos = trained.metrics["algorithms"]
    assert set(algos) == {"logreg", "mlp"}
    assert trained.algorithm == max(algos, key=lambda a: algos[a]["val_pr_auc"])


def test_conversion_is_byte_stable_in_process(trained, examples):
    meta = export.read_metadata(trained.onnx_bytes)
    n = len(examples.feature_names)
    again = [export.to_onnx(trained.export_model, n, meta) for _ in range(2)]
    assert again[0] == again[1] == trained.onnx_bytes


def test_explainer_is_exported_named_and_exact(trained, examples):
    """explain.onnx: named and hashed in model.onnx's metadata; its probability is model.onnx's
    and every impact it reports is the exact occlusion impact through model.onnx."""
    from models_py import explain

    meta = export.read_metadata(trained.onnx_bytes)
    assert meta[export.EXPLAINER_FILE_KEY] == explain.EXPLAINER_FILE
    assert meta[export.EXPLAINER_SHA_KEY] == explain.sha256(trained.explainer_bytes)
    assert meta["explainer_method"] == trained.metrics["explainer"]["method"]
    X = np.concatenate([trained.test_X[:300], trained.test_X[:20] * 3.0])
    medians = json.loads(meta["feature_medians"])
    check = explain.verify(trained.onnx_bytes, trained.explainer_bytes, X, medians)
    assert check["max_abs_impact_error"] <= explain.EXACT_TOLERANCE
    assert check["max_abs_p_error"] <= explain.EXACT_TOLERANCE
    recorded = trained.metrics["explainer"]
    assert recorded["rows"] > 0 and recorded["max_abs_impact_error"] <= explain.EXACT_TOLERANCE
    n = len(examples.feature_names)
    if trained.algorithm == "logreg" or n <= explain.DEFAULT_CANDIDATES:
        # every feature occluded exactly: the reasons are exact occlusion's
        assert check["same_top3"] == 1.0
    # the other candidate is explainable the same way
    for result in trained.results.values():
        net = explain.network_from_keras(result.export_model, 10.0)
        ebytes = explain.build_explainer(net, medians, n_candidates=n)
        check = explain.verify(result.onnx_bytes, ebytes, X, medians)
        assert check["same_top3"] == 1.0, result.algorithm  # all candidates: exact reasons


def test_explainer_bytes_are_stable(trained):
    from models_py import explain, train

    meta = export.read_metadata(trained.onnx_bytes)
    net = explain.network_from_keras(trained.export_model, train.CLIP)
    again = explain.build_explainer(
        net,
        json.loads(meta["feature_medians"]),
        n_candidates=explain.DEFAULT_CANDIDATES,
        metadata={"model_version": meta["model_version"], "feature_names": meta["feature_names"]},
    )
    assert again == trained.explainer_bytes
