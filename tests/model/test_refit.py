"""The selected model is refitted on every snapshot labelled before the test; short histories
train with a shorter train -> validation gap but the full gap before the test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models_py import export, metrics
from models_py.train import fit_models
from tests.model.conftest import with_changes

pytestmark = pytest.mark.slow


def _dates(ex):
    return sorted({d.item() for d in np.unique(ex.snapshot_dates)})


def test_refit_uses_every_snapshot_before_the_test_gap(trained, examples, small_config):
    algos = trained.metrics["algorithms"]
    refit = algos[trained.algorithm]["refit"]
    assert refit is not None
    assert all(algos[a]["refit"] is None for a in algos if a != trained.algorithm)
    h = dt.timedelta(days=small_config.horizon_days)
    test_start = trained.split.test_dates[0]
    expected = [d for d in _dates(examples) if d + h <= test_start]
    assert refit["snapshots"] == [str(expected[0]), str(expected[-1]), len(expected)]
    # more than the train part: the gap and the validation snapshots too, never the test
    assert len(expected) > len(trained.split.train_dates) + len(trained.split.val_dates)
    assert set(trained.split.val_dates) <= set(expected)
    assert not set(trained.split.test_dates) & set(expected)
    mask = np.isin(examples.snapshot_dates, np.array(expected, "datetime64[D]"))
    assert refit["rows"] == int(mask.sum())
    assert refit["epochs"] == algos[trained.algorithm]["best_epochs"] >= 1
    # the registered model is the refitted one, and its test metrics are its own
    p = export.predict_onnx(trained.onnx_bytes, trained.test_X)
    assert metrics.roc_auc(trained.test_y, p) == pytest.approx(trained.metrics["test"]["roc_auc"])
    assert metrics.roc_auc(trained.test_y, p) != pytest.approx(
        refit["before"]["test"]["roc_auc"], abs=1e-9
    )


@pytest.mark.parametrize("change", [{"refit": False}, {"refit_max_rows": 100}])
def test_no_refit_registers_the_train_only_fit(examples, small_config, trained, change):
    plain = fit_models(examples, with_changes(small_config, **change), log=lambda _: None)
    assert (plain.metrics["refit_note"] is None) == ("refit" in change)
    assert plain.algorithm == trained.algorithm  # selection happens before the refit
    algo = plain.metrics["algorithms"][plain.algorithm]
    assert algo["refit"] is None
    before = trained.metrics["algorithms"][trained.algorithm]["refit"]["before"]["test"]
    assert algo["test"]["roc_auc"] == pytest.approx(before["roc_auc"])


def test_short_history_trains_and_keeps_the_test_gap(examples, small_config):
    # 26 weekly snapshots with a 90-day horizon: two 90-day gaps do not fit
    config = with_changes(small_config, horizon_days=90, algorithms=("logreg",))
    out = fit_models(examples, config, log=lambda _: None)
    split = out.split
    assert split.short_history and 1 <= split.train_val_gap_days < 90
    h = dt.timedelta(days=90)
    assert all(d + h <= split.test_dates[0] for d in split.train_dates + split.val_dates)
    refit = out.metrics["algorithms"]["logreg"]["refit"]
    assert dt.date.fromisoformat(refit["snapshots"][1]) + h <= split.test_dates[0]
    assert out.metrics["split"]["validation_gap_days"] == split.train_val_gap_days
    assert out.metrics["test"]["roc_auc"] > 0.6
