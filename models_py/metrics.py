"""Evaluation metrics and the risk-tier threshold policy (numpy / scikit-learn, no TensorFlow).

All functions take `y` (0/1 labels) and `p` (scores; probabilities where calibration matters).
A metric that is undefined for the data (e.g. ROC-AUC with one class) is None, so the result can
go into JSON as null.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

TOP_FRACTIONS: tuple[float, ...] = (0.05, 0.10, 0.20)
EPS = 1e-7


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y has {y.shape[0]} rows but p has {p.shape[0]}")
    return y, p


def _two_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < int(y.sum()) < y.size


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count one half); None with a single class."""
    y, p = _arrays(y, p)
    return float(roc_auc_score(y, p)) if _two_classes(y) else None


def pr_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the precision-recall curve as average precision (step-wise, no interpolation).

    AP = sum_k (R_k - R_{k-1}) P_k over score thresholds; None without positives.
    """
    y, p = _arrays(y, p)
    return float(average_precision_score(y, p)) if y.sum() > 0 else None


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood, probabilities clipped to [1e-7, 1 - 1e-7]."""
    y, p = _arrays(y, p)
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between probability and outcome."""
    y, p = _arrays(y, p)
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with `n_bins` equal-width bins on [0, 1]: sum_b n_b / n * |mean(y_b) - mean(p_b)|.

    Bin b holds b/n_bins <= p < (b+1)/n_bins; p == 1 falls into the last bin.
    """
    y, p = _arrays(y, p)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        m = bins == b
        ece += m.sum() / y.size * abs(y[m].mean() - p[m].mean())
    return float(ece)


def calibration_curve(
    y: np.ndarray, p: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted, observed rate and count per non-empty equal-width bin."""
    y, p = _arrays(y, p)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    ub = np.unique(bins)
    pred = np.array([p[bins == b].mean() for b in ub])
    obs = np.array([y[bins == b].mean() for b in ub])
    cnt = np.array([(bins == b).sum() for b in ub])
    return pred, obs, cnt


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Precision, recall and F1 of flagging `p >= threshold`.

    Precision is 0 when nothing is flagged; recall is 0 without positives.
    """
    y, p = _arrays(y, p)
    flagged = p >= threshold
    tp = int((flagged & (y == 1)).sum())
    n_flagged = int(flagged.sum())
    n_pos = int(y.sum())
    precision = tp / n_flagged if n_flagged else 0.0
    recall = tp / n_pos if n_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": float(threshold),
        "flagged": n_flagged,
        "flagged_share": n_flagged / y.size if y.size else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def top_fraction(y: np.ndarray, p: np.ndarray, fraction: float) -> dict[str, float | int]:
    """Lift and capture rate of the top `fraction` of rows by score.

    The top k = ceil(fraction * n) rows by descending score (ties broken by row order) are
    flagged. capture = positives among them / all positives; lift = their churn rate / base rate.
    """
    y, p = _arrays(y, p)
    k = max(1, math.ceil(fraction * y.size - 1e-9))
    order = np.argsort(-p, kind="stable")[:k]
    tp = int(y[order].sum())
    n_pos = int(y.sum())
    base = n_pos / y.size if y.size else 0.0
    rate = tp / k
    return {
        "k": k,
        "churn_rate": rate,
        "capture": tp / n_pos if n_pos else 0.0,
        "lift": rate / base if base else 0.0,
    }


def ranking_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, object]:
    """Metrics that need only a ranking score (used for the recency baseline)."""
    y, s = _arrays(y, s)
    out: dict[str, object] = {"n": int(y.size), "base_rate": float(y.mean()) if y.size else 0.0}
    out["roc_auc"] = roc_auc(y, s)
    out["pr_auc"] = pr_auc(y, s)
    for f in TOP_FRACTIONS:
        out[f"top_{round(f * 100)}pct"] = top_fraction(y, s, f)
    return out


def evaluate(
    y: np.ndarray, p: np.ndarray, thresholds: dict[str, float] | None = None
) -> dict[str, object]:
    """Every reported metric for calibrated probabilities `p`.

    Returns:
        n, base_rate, roc_auc, pr_auc, log_loss, brier, ece, top_5pct/top_10pct/top_20pct (lift,
        capture) and, per threshold name in `thresholds`, precision/recall/F1 at it.
    """
    out = ranking_metrics(y, p)
    out["log_loss"] = log_loss(y, p)
    out["brier"] = brier_score(y, p)
    out["ece"] = expected_calibration_error(y, p)
    out["mean_probability"] = float(np.mean(p)) if np.size(p) else 0.0
    for name, t in (thresholds or {}).items():
        out[f"at_{name}"] = at_threshold(y, p, t)
    return out


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the risk-tier thresholds are chosen on validation scores.

    Attributes:
        high_min_precision: high = the lowest threshold whose precision reaches this.
        high_fallback_top: if no threshold reaches it, high = the top-this-share score cutoff.
        medium_top: medium = the top-this-share score cutoff (capped at high).
    """

    high_min_precision: float = 0.7
    high_fallback_top: float = 0.05
    medium_top: float = 0.20

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly form."""
        return asdict(self)


def top_share_cutoff(p: np.ndarray, share: float) -> float:
    """The score s such that `p >= s` flags the top ceil(share * n) rows (more on ties)."""
    q = np.sort(np.asarray(p).ravel())[::-1]
    k = max(1, math.ceil(share * q.size - 1e-9))
    return float(q[min(k, q.size) - 1])


def lowest_threshold_with_precision(
    y: np.ndarray, p: np.ndarray, min_precision: float
) -> float | None:
    """The lowest score t with precision(p >= t) >= min_precision, or None if none reaches it."""
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p).ravel()
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, ps.size + 1)
    # only the last row of each run of equal scores is a real cut (p >= t takes all ties)
    last_of_tie = np.append(ps[1:] != ps[:-1], True)
    ok = last_of_tie & (tp / k >= min_precision)
    if not ok.any():
        return None
    return float(ps[np.flatnonzero(ok)[-1]])


def choose_thresholds(
    y_val: np.ndarray, p_val: np.ndarray, policy: ThresholdPolicy = ThresholdPolicy()
) -> tuple[dict[str, float], list[str]]:
    """Risk-tier thresholds from validation labels and scores.

    Returns:
        ({"high": t_high, "medium": t_medium}, notes) where notes say which fallbacks applied.
    """
    notes: list[str] = []
    high = lowest_threshold_with_precision(y_val, p_val, policy.high_min_precision)
    if high is None:
        high = top_share_cutoff(p_val, policy.high_fallback_top)
        notes.append(
            f"no validation threshold reached precision {policy.high_min_precision:.2f}: "
            f"high = top {policy.high_fallback_top:.0%} cutoff ({high:.4f})"
        )
    else:
        notes.append(
            f"high = lowest validation threshold with precision >= {policy.high_min_precision:.2f}"
        )
    medium = top_share_cutoff(p_val, policy.medium_top)
    if medium > high:
        notes.append(
            f"top {policy.medium_top:.0%} cutoff ({medium:.4f}) is above high: medium = high"
        )
        medium = high
    else:
        notes.append(f"medium = top {policy.medium_top:.0%} validation score cutoff")
    return {"high": high, "medium": medium}, notes


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _sub(result: dict[str, object], key: str, sub: str) -> object:
    inner = result.get(key)
    return inner.get(sub) if isinstance(inner, dict) else None


def format_table(results: dict[str, dict[str, object]]) -> str:
    """A plain-text table: one row per metric, one column per model (missing values 'n/a')."""
    rows: list[tuple[str, list[str]]] = []
    names = list(results)
    keys = ["n", "base_rate", "roc_auc", "pr_auc", "log_loss", "brier", "ece"]
    for key in keys:
        if any(key in r for r in results.values()):
            rows.append((key, [_fmt(results[m].get(key)) for m in names]))
    for f in TOP_FRACTIONS:
        tag = f"top_{round(f * 100)}pct"
        for sub in ("lift", "capture"):
            vals = [_fmt(_sub(results[m], tag, sub)) for m in names]
            rows.append((f"{sub}@top{round(f * 100)}%", vals))
    tiers = sorted({k[3:] for r in results.values() for k in r if k.startswith("at_")})
    for tier in tiers:
        for sub in ("threshold", "precision", "recall", "f1", "flagged_share"):
            vals = [_fmt(_sub(results[m], f"at_{tier}", sub)) for m in names]
            rows.append((f"{sub}@{tier}", vals))
    width = max(len(r[0]) for r in rows)
    colw = [max(len(n), 8) for n in names]
    head = " " * width + "  " + "  ".join(n.rjust(w) for n, w in zip(names, colw))
    lines = [head]
    for label, vals in rows:
        lines.append(label.ljust(width) + "  " + "  ".join(v.rjust(w) for v, w in zip(vals, colw)))
    return "\n".join(lines)


def fit_platt(logits: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling: (a, b) maximising the likelihood of y under sigmoid(a * logit + b).

    Newton's method on the two parameters with a small ridge (1e-6) for stability; deterministic.

    Returns:
        (a, b) as Python floats.
    """
    z = np.asarray(logits, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    A = np.column_stack([z, np.ones_like(z)])
    w = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(A @ w)))
        grad = A.T @ (p - t) + 1e-6 * w
        hess = (A * (p * (1 - p))[:, None]).T @ A + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(w[0]), float(w[1])
