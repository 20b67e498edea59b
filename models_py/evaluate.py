"""Re-evaluate a registered model on its test snapshot(s) with ONNX Runtime (no TensorFlow)."""

from __future__ import annotations

from typing import Any

import duckdb

from models_py import data, export, metrics, registry
from models_py.train import BASELINE_FEATURE


def evaluate_model(con: duckdb.DuckDBPyConnection, version: str | None = None) -> dict[str, Any]:
    """Metrics of a registered model (default: the active one) on its test snapshot(s).

    Returns:
        {"model": record, "metrics": {...}, "baseline": {...} or None}

    Raises:
        registry.RegistryError: Unknown version / no active model, or the model's feature list
            differs from the database's feature catalog.
    """
    record = registry.get_model(con, version) if version else registry.get_active(con)
    if record is None:
        raise registry.NoActiveModelError("no active model: pass --model VERSION")
    names = data.feature_names_from_db(con)
    problems = registry.compatibility_problems(record, names, record.churn_horizon_days)
    if problems:
        raise registry.IncompatibleModelError("; ".join(problems))
    ex = data.load_training_examples(
        con,
        names,
        where=f"snapshot_date between DATE '{record.test_start_date}' "
        f"and DATE '{record.test_end_date}'",
    )
    if len(ex) == 0:
        raise registry.RegistryError(
            f"no training_examples rows on the test snapshot(s) {record.test_start_date}.."
            f"{record.test_end_date} of {record.model_version}"
        )
    p = export.predict_onnx(record.onnx_path, ex.X)
    baseline = None
    if BASELINE_FEATURE in names:
        baseline = metrics.ranking_metrics(ex.y, ex.X[:, names.index(BASELINE_FEATURE)])
    return {
        "model": record,
        "metrics": metrics.evaluate(ex.y, p, record.thresholds),
        "baseline": baseline,
    }
