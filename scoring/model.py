"""Load, verify and cache the churn model for in-database scoring.

A model is accepted only if
- its file's sha256 equals `onnx_sha256` in `main.model_registry` (the bytes that are hashed are
  the bytes handed to ONNX Runtime, so the file cannot change in between),
- its feature names (registry row and ONNX metadata) equal the current ordered feature list in
  `main.feature_catalog`, and the graph's input width equals that list's length,
- its metadata has training medians and thresholds that make sense.

One ONNX Runtime session per process and model file: sessions are cached by (path, sha256).
Only duckdb, onnxruntime, numpy and the standard library are imported here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import onnxruntime as ort

INPUT_NAME = "features"
OUTPUT_NAME = "churn_probability"
ATTRIBUTION_NAME = "churn_attribution"
REASON_FEATURE_NAME = "churn_reason_feature"
REASON_IMPACT_NAME = "churn_reason_impact"
EXPLAINER_FILE_KEY = "explainer_file"
EXPLAINER_SHA_KEY = "explainer_sha256"
NO_MODEL_MESSAGE = "no active model in main.model_registry: run `churnwatch train` first"

_SESSIONS: dict[tuple[str, str], ort.InferenceSession] = {}
_SESSIONS_LOCK = threading.Lock()


class ModelError(RuntimeError):
    """The model cannot be used for scoring (missing, tampered or not matching the features)."""


class NoActiveModelError(ModelError):
    """No model is registered as active yet."""


@dataclass(frozen=True)
class ScoringModel:
    """A verified model and its ONNX Runtime session.

    Attributes:
        version: `model_version`.
        path: Absolute path of the ONNX file.
        sha256: Hex sha256 of the file's bytes.
        feature_names: Ordered feature list (the model's input columns).
        medians: Training medians, one per feature (float32), for reason codes.
        thresholds: Risk thresholds {"high": p, "medium": p}.
        session: The shared ONNX Runtime session.
        has_attribution: Whether reasons can come from an explainer (see explainer_kind).
        explainer: The session that explains (the model's own session when it has a
            `churn_attribution` output, or the explainer file named in its metadata), None
            without one.
        explainer_kind: "reasons" (outputs `churn_reason_feature` int64 [batch, R] and
            `churn_reason_impact` float32 [batch, R]: the top reasons, exact occlusion impacts,
            largest first), "attribution" (output `churn_attribution` float32 [batch, N]) or
            None.
        explainer_method: What the explainer computes (its metadata), for documentation.
    """

    version: str
    path: str
    sha256: str
    feature_names: tuple[str, ...]
    medians: np.ndarray
    thresholds: dict[str, float]
    session: ort.InferenceSession = field(repr=False, compare=False)
    has_attribution: bool = False
    explainer: ort.InferenceSession | None = field(default=None, repr=False, compare=False)
    explainer_kind: str | None = None
    explainer_method: str | None = None

    @property
    def n_features(self) -> int:
        """Number of input features N."""
        return len(self.feature_names)


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    """Session options used for scoring.

    DuckDB calls the UDF from each of its worker threads at once, so the parallelism comes from
    DuckDB; ONNX Runtime runs each call on the calling thread (1 intra-op thread, no spinning),
    which was the fastest setting measured (bench/RESULTS_scoring.md).

    Args:
        intra_op_threads: ONNX Runtime intra-op threads per call.

    Returns:
        The options.
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def get_session(path: str, data: bytes, sha256: str) -> ort.InferenceSession:
    """Return the process-wide session for (path, sha256), creating it from `data` once.

    Args:
        path: Absolute model path (part of the cache key).
        data: The verified model bytes.
        sha256: Their sha256 (part of the cache key).

    Returns:
        The cached InferenceSession.
    """
    key = (path, sha256)
    with _SESSIONS_LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            sess = ort.InferenceSession(
                data, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
            _SESSIONS[key] = sess
        return sess


def clear_session_cache() -> None:
    """Forget every cached session (tests)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


def _fetch_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    """Run `sql` and read the whole result (an unread result blocks create_function)."""
    return con.execute(sql, params or []).fetchall()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = _fetch_rows(
        con,
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    )
    return bool(rows[0][0])


def catalog_feature_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Read the ordered feature list from `main.feature_catalog`.

    Raises:
        ModelError: The table is missing, empty or its positions are not 1..N.
    """
    if not _table_exists(con, "main", "feature_catalog"):
        raise ModelError("main.feature_catalog is missing: run `dbt build` (features) first")
    rows = _fetch_rows(
        con, "select position, feature_name from main.feature_catalog order by position"
    )
    if not rows:
        raise ModelError("main.feature_catalog is empty")
    positions = [r[0] for r in rows]
    if positions != list(range(1, len(rows) + 1)):
        raise ModelError(f"main.feature_catalog positions are not 1..{len(rows)}: {positions}")
    return [r[1] for r in rows]


def registry_row(
    con: duckdb.DuckDBPyConnection, version: str | None = None
) -> dict[str, Any] | None:
    """Return the registry row for `version` (or the active one) as a dict, None if absent."""
    if not _table_exists(con, "main", "model_registry"):
        return None
    cols = "model_version, feature_names, thresholds, onnx_path, onnx_sha256, status"
    if version is None:
        rows = _fetch_rows(con, f"select {cols} from main.model_registry where status = 'active'")
        if len(rows) > 1:
            raise ModelError(
                "main.model_registry has more than one active model: "
                + ", ".join(r[0] for r in rows)
            )
    else:
        rows = _fetch_rows(
            con, f"select {cols} from main.model_registry where model_version = ?", [version]
        )
    if not rows:
        return None
    keys = [c.strip() for c in cols.split(",")]
    return dict(zip(keys, rows[0], strict=True))


def first_mismatch(expected: list[str], actual: list[str], what: str, against: str) -> str | None:
    """Describe the first difference between two ordered feature lists, None if equal."""
    for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return f"feature {i + 1}: {against} has '{a}', {what} has '{b}'"
    if len(expected) != len(actual):
        longer, name = (expected, against) if len(expected) > len(actual) else (actual, what)
        extra = longer[min(len(expected), len(actual))]
        return (
            f"{against} has {len(expected)} features, {what} has {len(actual)}; "
            f"first unmatched: '{extra}' (only in {name})"
        )
    return None


def _metadata_json(meta: dict[str, str], key: str, path: str) -> Any:
    if key not in meta:
        raise ModelError(f"{path}: ONNX metadata has no '{key}'")
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: ONNX metadata '{key}' is not JSON: {exc}") from exc


def _check_thresholds(thresholds: Any, where: str) -> dict[str, float]:
    if not isinstance(thresholds, dict) or not {"high", "medium"} <= thresholds.keys():
        raise ModelError(f"{where}: thresholds must be {{'high': p, 'medium': p}}: {thresholds}")
    high, medium = float(thresholds["high"]), float(thresholds["medium"])
    if not 0.0 <= medium <= high <= 1.0:
        raise ModelError(f"{where}: thresholds need 0 <= medium <= high <= 1: {thresholds}")
    return {"high": high, "medium": medium}


def _resolve(
    con: duckdb.DuckDBPyConnection, model: str | os.PathLike[str] | None
) -> tuple[Path, dict[str, Any] | None]:
    """Find the ONNX file and its registry row for the `model` argument of `load_model`."""
    if model is None:
        row = registry_row(con)
        if row is None:
            raise NoActiveModelError(NO_MODEL_MESSAGE)
        return Path(row["onnx_path"]), row
    as_path = Path(model)
    if isinstance(model, os.PathLike) or as_path.suffix == ".onnx" or as_path.exists():
        if not as_path.is_file():
            raise ModelError(f"model file not found: {as_path}")
        return as_path, None
    row = registry_row(con, str(model))
    if row is None:
        raise ModelError(f"model version '{model}' is not in main.model_registry")
    return Path(row["onnx_path"]), row


def _load_explainer(path: Path, meta: dict[str, str], n: int) -> ort.InferenceSession | None:
    """Load the explainer file named in the model's metadata, None when there is none.

    The explainer is the same network with extra outputs (the top reasons, or a
    `churn_attribution` per feature, see `_explainer_kind`); it lives in a separate file so
    that `churn_score` does not pay for the attribution (ONNX Runtime runs
    the whole graph whatever outputs are requested). Its sha256 is stamped in the model's
    metadata, so the registry's sha256 of the model covers it too.
    """
    name = meta.get(EXPLAINER_FILE_KEY)
    if not name:
        return None
    expected = meta.get(EXPLAINER_SHA_KEY, "")
    epath = (path.parent / name).resolve()
    if epath.parent != path.parent:
        raise ModelError(f"{path}: explainer_file must be a file next to the model: {name}")
    try:
        data = epath.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read its explainer {epath}: {exc}") from exc
    sha = hashlib.sha256(data).hexdigest()
    if sha != expected.lower():
        raise ModelError(
            f"{path}: sha256 of explainer {epath} is {sha}, the model's metadata expects "
            f"{expected}: the file changed after export; refusing it"
        )
    try:
        sess = get_session(str(epath), data, sha)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"ONNX Runtime cannot load explainer {epath}: {exc}") from exc
    shape = sess.get_inputs()[0].shape
    if sess.get_inputs()[0].name != INPUT_NAME or len(shape) != 2 or shape[1] != n:
        raise ModelError(f"{epath}: explainer input must be '{INPUT_NAME}' [batch, {n}]")
    return sess


def _check_sha(row: dict[str, Any], path: Path, sha: str) -> None:
    if (row["onnx_sha256"] or "").lower() != sha:
        raise ModelError(
            f"model {row['model_version']}: sha256 of {path} is {sha}, the registry expects "
            f"{row['onnx_sha256']}: the file changed after registration; refusing it"
        )


def load_model(
    con: duckdb.DuckDBPyConnection, model: str | os.PathLike[str] | None = None
) -> ScoringModel:
    """Load and verify a model for scoring on the database behind `con`.

    Args:
        con: A connection to the churnwatch database (reads the registry and feature catalog).
        model: None for the active model in `main.model_registry`; a registry `model_version`;
            or a path to an ONNX file (its sha256 is then checked against the registry row of
            the same model_version when there is one).

    Returns:
        The verified model with its cached session.

    Raises:
        NoActiveModelError: `model` is None and no model is active.
        ModelError: The file is missing or tampered, or its features do not match.
    """
    path, row = _resolve(con, model)
    if not path.is_absolute() and not path.is_file():
        raise ModelError(f"model file not found: {path} (relative to {Path.cwd()})")
    path = path.resolve()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    sha = hashlib.sha256(data).hexdigest()

    if row is not None:
        _check_sha(row, path, sha)
    try:
        session = get_session(str(path), data, sha)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc
    meta = session.get_modelmeta().custom_metadata_map
    version = meta.get("model_version")
    if not version:
        raise ModelError(f"{path}: ONNX metadata has no 'model_version'")
    if row is None:
        row = registry_row(con, version)
        if row is not None:
            _check_sha(row, path, sha)
    if row is not None and row["model_version"] != version:
        raise ModelError(
            f"{path}: ONNX metadata says model_version '{version}', "
            f"registry row says '{row['model_version']}'"
        )

    meta_names = _metadata_json(meta, "feature_names", str(path))
    if not isinstance(meta_names, list) or not all(isinstance(n, str) for n in meta_names):
        raise ModelError(f"{path}: metadata feature_names must be a JSON list of strings")
    catalog = catalog_feature_names(con)
    problem = first_mismatch(
        catalog, meta_names, f"model {version} (ONNX metadata)", "main.feature_catalog"
    )
    if problem is None and row is not None:
        problem = first_mismatch(
            catalog,
            list(row["feature_names"] or []),
            f"model {version} (main.model_registry)",
            "main.feature_catalog",
        )
    if problem is not None:
        raise ModelError(f"model {version} does not match the current features: {problem}")

    n = len(catalog)
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelError(
            f"{path}: expected one input '{INPUT_NAME}', got {[i.name for i in inputs]}"
        )
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 2 or shape[1] != n:
        raise ModelError(
            f"{path}: input '{INPUT_NAME}' is {inputs[0].type} {shape}, expected "
            f"tensor(float) [batch, {n}] for {n} features"
        )
    outputs = {o.name: o for o in session.get_outputs()}
    if OUTPUT_NAME not in outputs:
        raise ModelError(f"{path}: no output '{OUTPUT_NAME}' (has {sorted(outputs)})")
    explainer = session if ATTRIBUTION_NAME in outputs else _load_explainer(path, meta, n)
    kind = _explainer_kind(explainer, path, n) if explainer is not None else None

    medians = _metadata_json(meta, "feature_medians", str(path))
    if not isinstance(medians, list) or len(medians) != n:
        raise ModelError(f"{path}: feature_medians must be a JSON list of {n} numbers")
    med = np.asarray(medians, dtype=np.float32)
    if not np.all(np.isfinite(med)):
        bad = catalog[int(np.flatnonzero(~np.isfinite(med))[0])]
        raise ModelError(f"{path}: feature_medians has a non-finite value for '{bad}'")
    thresholds = _check_thresholds(
        _metadata_json(meta, "thresholds", str(path)), f"{path} metadata"
    )
    if row is not None and row.get("thresholds"):
        reg = _check_thresholds(json.loads(row["thresholds"]), f"registry row {version}")
        if any(not math.isclose(reg[k], thresholds[k], abs_tol=1e-9) for k in reg):
            raise ModelError(
                f"model {version}: thresholds differ between the registry {reg} and the "
                f"ONNX metadata {thresholds}"
            )
    return ScoringModel(
        version=version,
        path=str(path),
        sha256=sha,
        feature_names=tuple(catalog),
        medians=med,
        thresholds=thresholds,
        session=session,
        has_attribution=explainer is not None,
        explainer=explainer,
        explainer_kind=kind,
        explainer_method=(
            explainer.get_modelmeta().custom_metadata_map.get("explainer_method")
            if explainer is not None
            else None
        ),
    )


def _explainer_kind(explainer: ort.InferenceSession, path: Path, n: int) -> str:
    """ "reasons" or "attribution" from the explainer's outputs (ModelError if neither fits)."""
    outs = {o.name: o for o in explainer.get_outputs()}
    if OUTPUT_NAME not in outs:
        raise ModelError(f"{path}: explainer has no output '{OUTPUT_NAME}'")
    feat, imp = outs.get(REASON_FEATURE_NAME), outs.get(REASON_IMPACT_NAME)
    if feat is not None or imp is not None:
        r = None if feat is None else list(feat.shape)[1:]
        if (
            feat is None
            or imp is None
            or feat.type != "tensor(int64)"
            or imp.type != "tensor(float)"
            or len(feat.shape) != 2
            or r != list(imp.shape)[1:]
            or not isinstance(r[0], int)
            or not 1 <= r[0] <= n
        ):
            raise ModelError(
                f"{path}: explainer outputs must be '{REASON_FEATURE_NAME}' int64 [batch, R] and "
                f"'{REASON_IMPACT_NAME}' float32 [batch, R] with 1 <= R <= {n}"
            )
        return "reasons"
    attr = outs.get(ATTRIBUTION_NAME)
    if attr is None or list(attr.shape)[1:] != [n]:
        raise ModelError(
            f"{path}: explainer needs '{REASON_FEATURE_NAME}'/'{REASON_IMPACT_NAME}' or "
            f"'{ATTRIBUTION_NAME}' [batch, {n}]"
        )
    return "attribution"
