"""The model card (`model_card.md`) written next to model.onnx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models_py import export, metrics


def _f(v: Any) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _refit_line(algo: dict[str, Any], note: str | None = None) -> str:
    refit = algo.get("refit")
    if not refit:
        return (
            "- registered model: fitted on the training snapshots only ("
            + (note or "no refit")
            + ")"
        )
    first, last, n = refit["snapshots"]
    before = refit["before"]["test"]
    return (
        f"- registered model: refitted after selection on every snapshot labelled before the "
        f"test, {first} .. {last} ({n} snapshots, {refit['rows']} rows, {refit['epochs']} "
        f"epochs = the early-stopping choice); {refit['calibration']}; the train-only fit "
        f"scored test ROC-AUC {_f(before['roc_auc'])}, PR-AUC {_f(before['pr_auc'])}"
    )


def render(outcome: Any, registration: Any, plot_files: list[Path]) -> str:
    """Markdown model card for a `train.TrainOutcome` and its `registry.Registration`."""
    m = outcome.metrics
    cfg = outcome.config
    lines = [
        f"# churnwatch model {outcome.model_version}",
        "",
        f"- status: **{registration.status}** ({registration.reason})",
        f"- algorithm: {outcome.algorithm} (selected by {m['selection']}); "
        f"params {m['algorithms'][outcome.algorithm]['params']}",
        f"- churn definition: no completed order within {cfg.horizon_days} days after the "
        f"snapshot, among customers active in the previous {cfg.active_window_days} days",
        f"- training snapshots {m['split']['train'][0]} .. {m['split']['train'][1]} "
        f"({m['rows']['train']} rows); validation {m['split']['validation'][0]} .. "
        f"{m['split']['validation'][1]} ({m['rows']['validation']} rows); test "
        f"{outcome.test_start_date} .. {outcome.test_end_date} ({m['rows']['test']} rows)",
        f"- gaps: every training snapshot + {outcome.split.train_val_gap_days} days <= first "
        f"validation snapshot"
        + (
            f" (short history: less than the {cfg.horizon_days}-day horizon, so validation "
            "label windows may overlap training ones; validation only chose epochs, algorithm "
            "and calibration)"
            if outcome.split.short_history
            else ""
        )
        + f"; every validation snapshot + {cfg.horizon_days} days <= first test snapshot",
        _refit_line(m["algorithms"][outcome.algorithm], m.get("refit_note")),
        f"- seed {cfg.seed}; data fingerprint `{m['data_fingerprint'][:16]}`; training took "
        f"{m['train_seconds']:.1f} s",
        "",
        "## Test metrics",
        "",
        "Computed with ONNX Runtime from `model.onnx` on the test snapshot(s). PR-AUC is average "
        "precision; ECE uses 10 equal-width bins.",
        "",
        "```",
    ]
    table: dict[str, dict[str, Any]] = {name: r["test"] for name, r in m["algorithms"].items()}
    table[f"{outcome.algorithm} (exported)"] = m["test"]
    base = m["baseline_days_since_last_order"]
    if "skipped" not in base:
        table["recency"] = base
    lines += [metrics.format_table(table), "```", ""]
    if "skipped" in base:
        lines += [f"Recency baseline skipped: {base['skipped']}.", ""]
    else:
        lines += ["`recency` ranks customers by days since their last order (no model).", ""]
    th = outcome.thresholds
    lines += [
        "## Risk tiers",
        "",
        f"- high: probability >= {th['high']:.6f}",
        f"- medium: probability >= {th['medium']:.6f}",
        f"- policy: {m['threshold_policy']}",
    ]
    lines += [f"- {note}" for note in m["threshold_notes"]]
    lines += [
        "",
        "## Model",
        "",
        f"- ONNX opset {export.OPSET}; input `{export.INPUT_NAME}` float32 [batch, "
        f"{len(outcome.feature_names)}]; output `{export.OUTPUT_NAME}` float32 [batch, 1]",
        "- in-graph preprocessing: log1p on "
        + (", ".join(f"`{n}`" for n in outcome.log_features) or "no features")
        + "; standardisation with training mean/std; clipping to +-10",
        f"- class weights (balanced); Platt scaling on validation logits "
        f"(a={m['algorithms'][outcome.algorithm]['platt']['a']:.4f}, "
        f"b={m['algorithms'][outcome.algorithm]['platt']['b']:.4f})",
        f"- ONNX Runtime vs Keras max abs difference: {outcome.parity_max_abs_diff:.2e}",
    ]
    ex = m.get("explainer")
    if ex:
        lines += [
            f"- reason codes (`explain.onnx`): {ex['method']}; reported impacts equal exact "
            f"occlusion through model.onnx within {ex['max_abs_impact_error']:.1e}; same top "
            f"reason as full exact occlusion on {ex['same_top1']:.1%}, same top 3 on "
            f"{ex['same_top3']:.1%} of {ex['rows']} test rows",
        ]
    lines += [
        "",
        "## Features (input order) and training medians",
        "",
        "| # | feature | median | log1p |",
        "|---|---|---|---|",
    ]
    for i, (name, med) in enumerate(zip(outcome.feature_names, outcome.feature_medians), 1):
        lines.append(
            f"| {i} | {name} | {med:g} | {'yes' if name in outcome.log_features else ''} |"
        )
    lines += ["", "## Hyperparameter search", ""]
    for name, r in m["algorithms"].items():
        if not r["search"]:
            lines.append(f"- {name}: no search (one config or too few snapshots); {r['params']}")
        for s in r["search"]:
            folds = ", ".join(f"{v:.4f}" for v in s["fold_pr_auc"])
            lines.append(
                f"- {name} {s['params']}: fold PR-AUC {folds} (mean {_f(s['mean_pr_auc'])})"
            )
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plot_files]
    lines += [
        "",
        "## Limitations",
        "",
        "- Probabilities are calibrated on the validation snapshots; calibration drifts when "
        "the churn rate changes. Re-train when `churnwatch evaluate` shows a rising ECE.",
        "- The test set is the latest labelled snapshot(s) only; its metrics carry sampling "
        "noise.",
        "",
    ]
    return "\n".join(lines)
