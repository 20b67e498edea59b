"""models_py.metrics against small hand-computed examples."""

import math

import numpy as np
import pytest

from models_py import metrics as m


def test_roc_auc_and_pr_auc_by_hand():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    # positive pairs won: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); lost: (0.35 < 0.4)
    assert m.roc_auc(y, p) == pytest.approx(3 / 4)
    # ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 0.5 * 1 + 0.5 * 2/3
    assert m.pr_auc(y, p) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_ties_and_single_class():
    assert m.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert m.roc_auc([1, 1], [0.2, 0.3]) is None
    assert m.pr_auc([0, 0], [0.2, 0.3]) is None


def test_log_loss_and_brier_by_hand():
    y, p = [1, 0], [0.8, 0.4]
    assert m.log_loss(y, p) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert m.brier_score(y, p) == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert m.log_loss([1], [0.0]) == pytest.approx(-math.log(1e-7))  # clipped, finite


def test_expected_calibration_error_by_hand():
    y = [0, 1, 1, 0]
    p = [0.05, 0.15, 0.95, 0.85]  # four bins with one row each
    assert m.expected_calibration_error(y, p) == pytest.approx((0.05 + 0.85 + 0.05 + 0.85) / 4)
    # two bins: 1/2 * |0 - 0.45| + 1/2 * |1 - 0.55|
    assert m.expected_calibration_error([0, 1], [0.45, 0.55], n_bins=2) == pytest.approx(0.45)
    assert m.expected_calibration_error([0, 1], [0.4, 0.6], n_bins=1) == pytest.approx(0.0)
    assert m.expected_calibration_error([1], [1.0]) == pytest.approx(0.0)  # p = 1 in last bin


def test_precision_recall_f1_at_threshold():
    y = [1, 1, 0, 0, 1]
    p = [0.9, 0.8, 0.7, 0.2, 0.1]
    r = m.at_threshold(y, p, 0.7)
    assert r["flagged"] == 3
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    none = m.at_threshold(y, p, 0.95)
    assert none["flagged"] == 0 and none["precision"] == 0.0 and none["f1"] == 0.0


def test_lift_and_capture():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 1, 0, 0])  # base rate 0.3
    p = np.linspace(1.0, 0.1, 10)  # rows already in score order
    top20 = m.top_fraction(y, p, 0.2)  # k = 2: rows 0, 1 -> one churner
    assert top20["k"] == 2
    assert top20["churn_rate"] == pytest.approx(0.5)
    assert top20["capture"] == pytest.approx(1 / 3)
    assert top20["lift"] == pytest.approx(0.5 / 0.3)
    top5 = m.top_fraction(y, p, 0.05)  # ceil(0.5) = 1 row
    assert top5["k"] == 1 and top5["lift"] == pytest.approx(1 / 0.3)


def test_lowest_threshold_with_precision():
    y = [1, 1, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    # precision at each cut: 1, 1, 2/3, 3/4, 3/5, 1/2 -> lowest cut with >= 0.7 is 0.6
    assert m.lowest_threshold_with_precision(y, p, 0.7) == pytest.approx(0.6)
    assert m.lowest_threshold_with_precision(y, p, 0.99) == pytest.approx(0.8)


def test_lowest_threshold_respects_ties():
    # p >= 0.8 flags both tied rows: precision 2/3 < 0.7, so the answer is 0.9, not 0.8
    assert m.lowest_threshold_with_precision([1, 1, 0, 0], [0.9, 0.8, 0.8, 0.1], 0.7) == 0.9


def test_choose_thresholds_policy_and_fallback():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    # precision of p >= t is about (1 + t) / 2: 0.95 is first reached near t = 0.9 (top 10%)
    th, notes = m.choose_thresholds(y, p, m.ThresholdPolicy(0.95, 0.05, 0.2))
    flagged = p >= th["high"]
    assert y[flagged].mean() >= 0.95
    assert 0.05 < flagged.mean() < 0.2
    assert (p >= th["medium"]).mean() == pytest.approx(0.2, abs=0.002)
    assert th["medium"] <= th["high"]
    assert "precision" in notes[0]
    # random labels never reach precision 0.95 among many rows -> top 5% fallback
    y_rand = np.zeros(1000, int)
    y_rand[::10] = 1
    y_rand[np.argmax(p)] = 0  # the top row is retained, so no cut reaches precision 0.95
    th2, notes2 = m.choose_thresholds(y_rand, p, m.ThresholdPolicy(0.95, 0.05, 0.2))
    assert (p >= th2["high"]).mean() == pytest.approx(0.05, abs=0.002)
    assert "no validation threshold" in notes2[0]


def test_medium_capped_at_high():
    p = np.linspace(0, 1, 100)
    y = (p > 0.5).astype(int)  # precision 1 down to 0.51 -> high is low, below the top-20% cut
    th, notes = m.choose_thresholds(y, p, m.ThresholdPolicy(0.7, 0.05, 0.2))
    assert th["medium"] == th["high"]
    assert any("medium = high" in n for n in notes)


def test_fit_platt_recovers_known_parameters():
    rng = np.random.default_rng(1)
    z = rng.normal(size=200_000)
    y = rng.uniform(size=z.size) < 1 / (1 + np.exp(-(2.0 * z - 1.0)))
    a, b = m.fit_platt(z, y)
    assert a == pytest.approx(2.0, abs=0.05)
    assert b == pytest.approx(-1.0, abs=0.05)


def test_evaluate_and_table():
    y = [0, 1, 0, 1, 1]
    p = [0.1, 0.9, 0.3, 0.6, 0.4]
    r = m.evaluate(y, p, {"high": 0.8, "medium": 0.5})
    assert r["roc_auc"] == pytest.approx(1.0)
    assert r["at_high"]["recall"] == pytest.approx(1 / 3)
    assert r["at_medium"]["precision"] == pytest.approx(1.0)
    text = m.format_table({"model": r})
    assert "roc_auc" in text and "precision@high" in text and "lift@top10%" in text
