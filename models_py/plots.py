"""Evaluation plots as PNG (matplotlib, Agg backend): ROC, PR, calibration, lift, histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models_py import metrics


def write_plots(
    out_dir: str | Path,
    y: np.ndarray,
    p: np.ndarray,
    baseline: np.ndarray | None = None,
) -> list[Path]:
    """Write roc.png, pr.png, calibration.png, lift.png and score_histogram.png.

    Args:
        out_dir: Target directory (created if needed).
        y: Test labels.
        p: Calibrated test probabilities.
        baseline: Optional baseline score (days since last order) drawn on ROC/PR/lift.

    Returns:
        The written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    curves = [("model", p)] + (
        [("days since last order", baseline)] if baseline is not None else []
    )
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        # no "Software" tag: the PNG does not name the matplotlib version
        fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(5, 5))
    if metrics.roc_auc(y, p) is not None:
        for label, s in curves:
            fpr, tpr, _ = roc_curve(y, s)
            ax.plot(fpr, tpr, label=f"{label} (AUC {metrics.roc_auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right")
    save(fig, "roc.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    if y.sum():
        for label, s in curves:
            prec, rec, _ = precision_recall_curve(y, s)
            ax.plot(rec, prec, label=f"{label} (AP {metrics.pr_auc(y, s):.3f})")
        ax.axhline(y.mean(), color="k", ls=":", lw=1, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    save(fig, "pr.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    pred, obs, cnt = metrics.calibration_curve(y, p)
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
    ax.plot(pred, obs, "o-", label=f"model (ECE {metrics.expected_calibration_error(y, p):.3f})")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed churn rate",
        title="Calibration (test, 10 bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    save(fig, "calibration.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    share = np.arange(1, len(y) + 1) / max(len(y), 1)
    for label, s in curves:
        order = np.argsort(-np.asarray(s, dtype=np.float64), kind="stable")
        gains = np.cumsum(y[order]) / max(int(y.sum()), 1)
        ax.plot(share, gains, label=label)
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="random")
    for f in metrics.TOP_FRACTIONS:
        ax.axvline(f, color="grey", lw=0.5)
    ax.set(
        xlabel="share of customers contacted (by score)",
        ylabel="share of churners captured",
        title="Cumulative gains (test)",
    )
    ax.legend(loc="lower right")
    save(fig, "lift.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 41).tolist()
    ax.hist(p[y == 0], bins=bins, alpha=0.6, label="retained")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, label="churned")
    ax.set(xlabel="churn probability", ylabel="customers", title="Score distribution (test)")
    ax.legend()
    save(fig, "score_histogram.png")
    return written
