"""Same data and seed give the same ONNX bytes and model version."""

from __future__ import annotations

import dataclasses

import pytest

from models_py.train import fit_models, model_version


@pytest.mark.slow
def test_same_data_and_seed_same_onnx_bytes(examples, small_config):
    config = dataclasses.replace(
        small_config, search=True, search_folds=1, search_epochs=2, max_epochs=3
    )
    first = fit_models(examples, config, log=lambda _: None)
    second = fit_models(examples, config, log=lambda _: None)
    assert first.model_version == second.model_version
    assert first.onnx_bytes == second.onnx_bytes
    assert first.explainer_bytes == second.explainer_bytes


def test_version_depends_on_data_and_config(examples, small_config, trained):
    fp = examples.fingerprint()
    end = trained.split.train_dates[-1]
    v = model_version(fp, small_config, end, "mlp")
    assert v == model_version(fp, small_config, end, "mlp")
    assert v != model_version(fp, dataclasses.replace(small_config, seed=6), end, "mlp")
    assert v != model_version(fp[::-1], small_config, end, "mlp")
    assert v.startswith(f"{end:%Y%m%d}-mlp-")
