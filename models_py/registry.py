"""The model registry: `main.model_registry` in DuckDB plus `artifacts/models/<version>/`.

At most one row is 'active'. A new candidate becomes active only if it is not worse than the
active model on the candidate's own test snapshot(s): the active ONNX model is re-scored there
with ONNX Runtime and the PR-AUCs compared (tolerance 0.005); `force` overrides. A model whose
feature list or horizon differs from the project's is never returned by `active_model`.

No TensorFlow here (only `ensure_model` imports `models_py.train` when it has to train).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from models_py import export, metrics

TABLE = "main.model_registry"
STATUSES = ("active", "candidate", "rejected", "retired")
PR_AUC_TOLERANCE = 0.005
ARTIFACTS_ENV = "CHURNWATCH_ARTIFACTS"

DDL = f"""
create table if not exists {TABLE} (
    model_version VARCHAR PRIMARY KEY,
    created_at TIMESTAMP,
    algorithm VARCHAR,
    feature_names VARCHAR[],
    churn_horizon_days INTEGER,
    active_window_days INTEGER,
    train_start_date DATE,
    train_end_date DATE,
    test_start_date DATE,
    test_end_date DATE,
    metrics JSON,
    thresholds JSON,
    onnx_path VARCHAR,
    onnx_sha256 VARCHAR,
    status VARCHAR
)
"""
COLUMNS = (
    "model_version",
    "created_at",
    "algorithm",
    "feature_names",
    "churn_horizon_days",
    "active_window_days",
    "train_start_date",
    "train_end_date",
    "test_start_date",
    "test_end_date",
    "metrics",
    "thresholds",
    "onnx_path",
    "onnx_sha256",
    "status",
)


class RegistryError(RuntimeError):
    """A registry operation cannot be done (unknown version, nothing to roll back to, ...)."""


class NoActiveModelError(RegistryError):
    """There is no active model."""


class IncompatibleModelError(RegistryError):
    """The active model was trained for another feature list or horizon."""


def artifacts_root(value: str | Path | None = None) -> Path:
    """The artifacts root: `value`, else $CHURNWATCH_ARTIFACTS, else ./artifacts (absolute)."""
    chosen = value or os.environ.get(ARTIFACTS_ENV) or "artifacts"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class ModelRecord:
    """One row of main.model_registry (metrics and thresholds decoded from JSON)."""

    model_version: str
    created_at: dt.datetime
    algorithm: str
    feature_names: list[str]
    churn_horizon_days: int
    active_window_days: int
    train_start_date: dt.date
    train_end_date: dt.date
    test_start_date: dt.date
    test_end_date: dt.date
    metrics: dict[str, Any]
    thresholds: dict[str, float]
    onnx_path: str
    onnx_sha256: str
    status: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ModelRecord:
        d = dict(zip(COLUMNS, row))
        d["feature_names"] = list(d["feature_names"] or [])
        d["metrics"] = json.loads(d["metrics"]) if d["metrics"] else {}
        d["thresholds"] = json.loads(d["thresholds"]) if d["thresholds"] else {}
        return cls(**d)


@dataclass(frozen=True)
class Candidate:
    """A trained model ready to register (everything but status, created_at and paths)."""

    model_version: str
    algorithm: str
    feature_names: list[str]
    churn_horizon_days: int
    active_window_days: int
    train_start_date: dt.date
    train_end_date: dt.date
    test_start_date: dt.date
    test_end_date: dt.date
    metrics: dict[str, Any]
    thresholds: dict[str, float]
    onnx_bytes: bytes = field(repr=False)
    explainer_bytes: bytes = field(default=b"", repr=False)

    @classmethod
    def from_outcome(cls, outcome: Any) -> Candidate:
        """From a `train.TrainOutcome`."""
        return cls(
            model_version=outcome.model_version,
            algorithm=outcome.algorithm,
            feature_names=list(outcome.feature_names),
            churn_horizon_days=outcome.config.horizon_days,
            active_window_days=outcome.config.active_window_days,
            train_start_date=outcome.train_start_date,
            train_end_date=outcome.train_end_date,
            test_start_date=outcome.test_start_date,
            test_end_date=outcome.test_end_date,
            metrics=outcome.metrics,
            thresholds=outcome.thresholds,
            onnx_bytes=outcome.onnx_bytes,
            explainer_bytes=getattr(outcome, "explainer_bytes", b""),
        )


@dataclass(frozen=True)
class Registration:
    """What `register` decided: status ('active' | 'candidate' | 'rejected'), why, the row."""

    status: str
    reason: str
    record: ModelRecord
    comparison: dict[str, Any]


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create main.model_registry if it does not exist."""
    con.execute(DDL)


def _select(
    con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> list[ModelRecord]:
    ensure_table(con)
    q = f"select {', '.join(COLUMNS)} from {TABLE} {where} order by created_at, model_version"
    return [ModelRecord.from_row(r) for r in con.execute(q, params or []).fetchall()]


def list_models(con: duckdb.DuckDBPyConnection) -> list[ModelRecord]:
    """Every registered model, oldest first."""
    return _select(con)


def get_model(con: duckdb.DuckDBPyConnection, version: str) -> ModelRecord:
    """The registry row of `version`.

    Raises:
        RegistryError: No such version.
    """
    rows = _select(con, "where model_version = ?", [version])
    if not rows:
        raise RegistryError(f"no model {version!r} in {TABLE}")
    return rows[0]


def get_active(con: duckdb.DuckDBPyConnection) -> ModelRecord | None:
    """The active model, or None."""
    rows = _select(con, "where status = 'active'")
    if len(rows) > 1:
        raise RegistryError(f"{len(rows)} active models in {TABLE}; expected at most one")
    return rows[0] if rows else None


def compatibility_problems(
    record: ModelRecord, feature_names: Sequence[str], horizon_days: int
) -> list[str]:
    """Why `record` cannot score this project's features (empty list: compatible)."""
    problems = []
    if int(record.churn_horizon_days) != int(horizon_days):
        problems.append(
            f"model {record.model_version} was trained for horizon {record.churn_horizon_days} "
            f"days, the project is configured for {horizon_days}"
        )
    names, want = list(record.feature_names), list(feature_names)
    if names != want:
        missing = [n for n in want if n not in names]
        extra = [n for n in names if n not in want]
        if missing or extra:
            detail = f"missing {missing}" if missing else ""
            detail += ("; " if missing and extra else "") + (
                f"unexpected {extra}" if extra else ""
            )
        else:
            detail = "same names in a different order"
        problems.append(
            f"model {record.model_version} was trained for {len(names)} features, the project "
            f"has {len(want)} ({detail})"
        )
    return problems


def active_model(
    con: duckdb.DuckDBPyConnection, feature_names: Sequence[str], horizon_days: int
) -> ModelRecord:
    """The active model if it fits this feature list and horizon.

    Raises:
        NoActiveModelError: No model is active.
        IncompatibleModelError: The active model was trained for another feature list or
            horizon, or its ONNX file is missing or altered (the message names what differs).
    """
    record = get_active(con)
    if record is None:
        raise NoActiveModelError(f"no active model in {TABLE}: run `churnwatch train`")
    problems = compatibility_problems(record, feature_names, horizon_days)
    problems += artifact_problems(record)
    if problems:
        raise IncompatibleModelError("; ".join(problems) + ": run `churnwatch train`")
    return record


def artifact_problems(record: ModelRecord) -> list[str]:
    """Why the model's files cannot be used (empty list: model.onnx has the registered sha256
    and the explainer its metadata names, if any, has the sha256 stamped there)."""
    path = Path(record.onnx_path)
    if not path.is_file():
        return [f"model {record.model_version}'s ONNX file {path} is missing"]
    data = path.read_bytes()
    if _sha256(data) != record.onnx_sha256:
        return [f"model {record.model_version}'s ONNX file {path} has changed (sha256)"]
    meta = export.read_metadata(data)
    name = meta.get(export.EXPLAINER_FILE_KEY)
    if not name:
        return []
    epath = path.parent / name
    if epath.parent != path.parent or not epath.is_file():
        return [f"model {record.model_version}'s explainer {epath} is missing"]
    if _sha256(epath.read_bytes()) != meta.get(export.EXPLAINER_SHA_KEY, "").lower():
        return [f"model {record.model_version}'s explainer {epath} has changed (sha256)"]
    return []


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _compare_with_active(
    con: duckdb.DuckDBPyConnection,
    candidate: Candidate,
    X_test: np.ndarray,
    y_test: np.ndarray,
    tolerance: float,
) -> tuple[bool, str, dict[str, Any]]:
    """(candidate is not worse, reason, comparison details)."""
    cand_pr = metrics.pr_auc(y_test, export.predict_onnx(candidate.onnx_bytes, X_test))
    comp: dict[str, Any] = {"candidate_pr_auc": cand_pr, "tolerance": tolerance}
    active = get_active(con)
    if active is None:
        return True, "no active model", comp
    comp["active_version"] = active.model_version
    if active.model_version == candidate.model_version:
        return True, "the same model is already active", comp
    problems = compatibility_problems(
        active, candidate.feature_names, candidate.churn_horizon_days
    )
    if problems:
        return True, "active model is incompatible (" + "; ".join(problems) + ")", comp
    if not Path(active.onnx_path).is_file():
        return True, f"active model's ONNX file {active.onnx_path} is missing", comp
    act_pr = metrics.pr_auc(y_test, export.predict_onnx(active.onnx_path, X_test))
    comp["active_pr_auc"] = act_pr
    where = f"test snapshot(s) {candidate.test_start_date}..{candidate.test_end_date}"
    if cand_pr is None or act_pr is None:
        return True, f"PR-AUC undefined on {where}", comp
    if cand_pr + tolerance >= act_pr:
        return (
            True,
            (f"PR-AUC {cand_pr:.4f} vs active {active.model_version} {act_pr:.4f} on {where}"),
            comp,
        )
    return (
        False,
        (
            f"PR-AUC {cand_pr:.4f} is worse than active {active.model_version} ({act_pr:.4f}) on "
            f"{where} by more than {tolerance}"
        ),
        comp,
    )


def register(
    con: duckdb.DuckDBPyConnection,
    candidate: Candidate,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    artifacts: str | Path | None = None,
    force: bool = False,
    activate: bool = True,
    tolerance: float = PR_AUC_TOLERANCE,
) -> Registration:
    """Write the candidate's ONNX file and registry row; activate it if it is not worse.

    Args:
        con: DuckDB connection (the registry table is created if needed).
        candidate: The trained model.
        X_test: The candidate's test features (float32 [n, N]); the active model is re-scored
            on them.
        y_test: The test labels.
        artifacts: Artifacts root (see `artifacts_root`).
        force: Activate even if worse than the active model.
        activate: If False a good candidate keeps status 'candidate'.
        tolerance: How much lower the candidate's PR-AUC may be and still count as not worse.

    Returns:
        The Registration; status 'rejected' comes with the reason.
    """
    ensure_table(con)
    out_dir = artifacts_root(artifacts) / "models" / candidate.model_version
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    explainer_path = out_dir / "explain.onnx"
    if candidate.explainer_bytes:
        explainer_path.write_bytes(candidate.explainer_bytes)
    else:
        explainer_path.unlink(missing_ok=True)
    onnx_path.write_bytes(candidate.onnx_bytes)
    ok, reason, comp = _compare_with_active(con, candidate, X_test, y_test, tolerance)
    if not ok and force:
        status, reason = "active", f"forced: {reason}"
    elif not ok:
        status = "rejected"
    else:
        status = "active" if activate else "candidate"
    metrics_json = dict(candidate.metrics)
    metrics_json["registry_comparison"] = {**comp, "reason": reason}
    row = [
        candidate.model_version,
        _now(),
        candidate.algorithm,
        list(candidate.feature_names),
        int(candidate.churn_horizon_days),
        int(candidate.active_window_days),
        candidate.train_start_date,
        candidate.train_end_date,
        candidate.test_start_date,
        candidate.test_end_date,
        json.dumps(metrics_json, default=_json_default),
        json.dumps(candidate.thresholds, sort_keys=True),
        str(onnx_path),
        _sha256(candidate.onnx_bytes),
        status,
    ]
    con.execute("begin transaction")
    try:
        if status == "active":
            con.execute(
                f"update {TABLE} set status = 'retired' where status = 'active' "
                "and model_version <> ?",
                [candidate.model_version],
            )
        con.execute(f"delete from {TABLE} where model_version = ?", [candidate.model_version])
        con.execute(
            f"insert into {TABLE} ({', '.join(COLUMNS)}) "
            f"values ({', '.join(['?'] * len(COLUMNS))})",
            row,
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return Registration(status, reason, get_model(con, candidate.model_version), comp)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def promote(con: duckdb.DuckDBPyConnection, version: str) -> ModelRecord:
    """Make `version` the active model (the current active one becomes 'retired').

    Raises:
        RegistryError: Unknown version, or its ONNX file is missing or altered.
    """
    record = get_model(con, version)
    problems = artifact_problems(record)
    if problems:
        raise RegistryError(f"cannot promote {version}: " + "; ".join(problems))
    con.execute("begin transaction")
    try:
        con.execute(
            f"update {TABLE} set status = 'retired' "
            "where status = 'active' and model_version <> ?",
            [version],
        )
        con.execute(f"update {TABLE} set status = 'active' where model_version = ?", [version])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return get_model(con, version)


def rollback(con: duckdb.DuckDBPyConnection) -> ModelRecord:
    """Retire the active model and reactivate the previous one.

    The previous one is the newest 'retired' model created before the active one.

    Raises:
        RegistryError: No active model or no earlier retired model.
    """
    active = get_active(con)
    if active is None:
        raise RegistryError("no active model to roll back")
    earlier = [
        r for r in _select(con, "where status = 'retired'") if r.created_at < active.created_at
    ]
    if not earlier:
        raise RegistryError(f"no retired model older than {active.model_version} to roll back to")
    return promote(con, earlier[-1].model_version)


def format_models(records: Sequence[ModelRecord]) -> str:
    """A plain-text table for `churnwatch models list`."""
    head = (
        "model_version",
        "status",
        "algorithm",
        "created_at",
        "horizon",
        "train",
        "test",
        "test_pr_auc",
        "test_roc_auc",
    )
    rows = [head]
    for r in records:
        test = r.metrics.get("test", {})
        rows.append(
            (
                r.model_version,
                r.status,
                r.algorithm,
                f"{r.created_at:%Y-%m-%d %H:%M:%S}",
                f"{r.churn_horizon_days}d",
                f"{r.train_start_date}..{r.train_end_date}",
                f"{r.test_start_date}..{r.test_end_date}",
                _num(test.get("pr_auc")),
                _num(test.get("roc_auc")),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows
    )


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def ensure_model(
    db_path: str | Path,
    feature_names: Sequence[str] | None = None,
    horizon_days: int = 30,
    *,
    active_window_days: int = 180,
    artifacts: str | Path | None = None,
    config: Any = None,
    log: Any = print,
) -> ModelRecord:
    """The compatible active model, training (and registering) one only if there is none.

    Args:
        db_path: DuckDB file with main.training_examples, main.feature_catalog and the registry.
        feature_names: The project's feature list (default: main.feature_catalog).
        horizon_days: The project's churn horizon.
        active_window_days: The project's active window (recorded with a new model).
        artifacts: Artifacts root (see `artifacts_root`).
        config: A `train.TrainConfig` (its horizon/active window are overridden by the args).
        log: Receives progress lines.

    Returns:
        The active, compatible model.

    Raises:
        RegistryError: Training ran but the new model did not become active.
    """
    from models_py import data

    with duckdb.connect(str(db_path)) as con:
        names = (
            list(feature_names) if feature_names is not None else data.feature_names_from_db(con)
        )
        try:
            return active_model(con, names, horizon_days)
        except RegistryError as exc:
            log(f"training a model: {exc}")
    from dataclasses import replace

    from models_py import train

    cfg = config if config is not None else train.TrainConfig()
    cfg = replace(cfg, horizon_days=horizon_days, active_window_days=active_window_days)
    result = train.train_and_register(
        db_path, cfg, artifacts=artifacts, feature_names=names, log=log
    )
    with duckdb.connect(str(db_path)) as con:
        try:
            return active_model(con, names, horizon_days)
        except RegistryError as exc:
            raise RegistryError(
                f"trained {result.record.model_version} ({result.status}: "
                f"{result.reason}) but {exc}"
            ) from exc
