"""DuckDB functions that score with the churn model: `churn_score`, `churn_reasons` and friends.

Registered per database instance with `register(con, model=None)`:

- `churn_score(features FLOAT[N]) -> FLOAT`: churn probability (arrow-vectorised).
- `churn_reasons(features FLOAT[N]) -> STRUCT(feature VARCHAR, value FLOAT, impact FLOAT)[]`:
  the (at most) 3 features that raise the risk most, largest first; impact is
  p(x) - p(x with that feature at its training median); only positive impacts are listed.
- `churn_score_and_reasons(features FLOAT[N]) -> STRUCT(churn_probability FLOAT, reasons
  STRUCT(feature VARCHAR, value FLOAT, impact FLOAT)[])`: both in one pass of the network (the
  explainer computes the probability too), for callers that need both (the dbt model
  `churn_scores`); `churn_probability` equals `churn_score` within float rounding (the
  explainer is the same network with the same weights, written as its own graph) and `reasons`
  equals `churn_reasons`.
- `churn_model_version() -> VARCHAR` and `churn_model_thresholds() -> STRUCT(high DOUBLE,
  medium DOUBLE)`: what the functions above use, for SQL.

Inputs are checked before they reach the model: the array type and width must be FLOAT[N]
(DuckDB's binder refuses other widths, the function checks again), and a NULL array, a NULL
element (DuckDB passes it as a null slot) or a NaN/inf value raises an error naming the feature.

DuckDB keeps a raw pointer to a registered Python function; when the connection that registered
it closes, the function object is freed and a later call from another connection of the same
database crashes the process (STACK.md). Every function registered here is therefore kept alive
for the life of the process (`_KEEP_ALIVE`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
from duckdb.func import ARROW, SPECIAL

from scoring.model import (
    ATTRIBUTION_NAME,
    INPUT_NAME,
    OUTPUT_NAME,
    REASON_FEATURE_NAME,
    REASON_IMPACT_NAME,
    ScoringModel,
    load_model,
)

ReasonsMethod = Literal["auto", "explainer", "attribution", "occlusion"]

N_REASONS = 3
REASON_TYPE = pa.list_(
    pa.struct([("feature", pa.string()), ("value", pa.float32()), ("impact", pa.float32())])
)
REASON_SQL_TYPE = "STRUCT(feature VARCHAR, value FLOAT, impact FLOAT)[]"
SCORED_TYPE = pa.struct([("churn_probability", pa.float32()), ("reasons", REASON_TYPE)])
SCORED_SQL_TYPE = f"STRUCT(churn_probability FLOAT, reasons {REASON_SQL_TYPE})"
THRESHOLDS_SQL_TYPE = "STRUCT(high DOUBLE, medium DOUBLE)"
FUNCTION_NAMES = (
    "churn_score",
    "churn_reasons",
    "churn_score_and_reasons",
    "churn_model_version",
    "churn_model_thresholds",
)

# rows per explainer run: its [rows x K, hidden] intermediates stay in cache
# (bench/RESULTS_scoring.md: 256 was 6-12% cheaper than 512, which was ~25% cheaper than 2048)
EXPLAINER_BATCH = 256

_KEEP_ALIVE: list[Callable[..., Any]] = []
_KEEP_ALIVE_LOCK = threading.Lock()


class ScoringInputError(ValueError):
    """The features handed to a scoring function cannot go to the model."""


@functools.cache
def _ones(n: int) -> np.ndarray:
    ones = np.ones(n, dtype=np.float32)
    ones.flags.writeable = False
    return ones


def features_matrix(
    arr: pa.Array | pa.ChunkedArray, feature_names: tuple[str, ...], fn: str = "churn_score"
) -> np.ndarray:
    """Return the [rows, N] float32 matrix behind an Arrow FLOAT[N] array, without copying.

    The values buffer of the FixedSizeList is viewed as a numpy matrix (zero copy); then the
    array is checked: right type and width, no NULL array, no NULL element, every value finite.

    Args:
        arr: What DuckDB passes to an arrow UDF (a FixedSizeList<float32>[N]; a List is accepted
            when every row has N values).
        feature_names: The model's ordered features (N = their number), to name a bad column.
        fn: Function name for messages.

    Returns:
        A C-contiguous float32 matrix (possibly read-only).

    Raises:
        ScoringInputError: Wrong type or width, NULL, NaN or infinite values.
    """
    n = len(feature_names)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    rows = len(arr)
    typ = arr.type
    if pa.types.is_fixed_size_list(typ):
        if typ.list_size != n:
            raise ScoringInputError(
                f"{fn}: features must be FLOAT[{n}] (the model's {n} features), got "
                f"FLOAT[{typ.list_size}]"
            )
        start = arr.offset * n
    elif pa.types.is_list(typ) or pa.types.is_large_list(typ):
        offsets = arr.offsets.to_numpy()
        lengths = np.diff(offsets)
        valid = ~arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else slice(None)
        bad = np.flatnonzero(lengths[valid] != n)
        if bad.size:
            got = int(lengths[valid][bad[0]])
            raise ScoringInputError(
                f"{fn}: features must have {n} values (the model's features), got a list of "
                f"{got} in {bad.size} row(s)"
            )
        start = int(offsets[0])
    else:
        raise ScoringInputError(f"{fn}: features must be FLOAT[{n}], got {typ}")
    if arr.null_count:
        raise ScoringInputError(
            f"{fn}: features is NULL in {arr.null_count} row(s); coalesce the features upstream"
        )
    if not pa.types.is_float32(typ.value_type):
        raise ScoringInputError(f"{fn}: features must be FLOAT (float32), got {typ.value_type}")
    values = arr.values.slice(start, rows * n)
    if values.null_count:
        nulls = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
        col = int(nulls[0] % n)
        raise ScoringInputError(
            f"{fn}: feature '{feature_names[col]}' (position {col + 1}) is NULL in row "
            f"{int(nulls[0] // n)} of this batch ({nulls.size} NULL value(s) in all); "
            "features must not be NULL"
        )
    x = values.to_numpy(zero_copy_only=True).reshape(rows, n)
    # NaN and inf propagate through a sum: one BLAS matrix-vector product (measured ~2-5x
    # cheaper than np.isfinite(x).all() or np.add.reduce), the full scan only on a hit
    if not np.isfinite((x @ _ones(n)).sum()) and not np.isfinite(x).all():
        bad_r, bad_c = np.nonzero(~np.isfinite(x))
        col, val = int(bad_c[0]), x[bad_r[0], bad_c[0]]
        raise ScoringInputError(
            f"{fn}: feature '{feature_names[col]}' (position {col + 1}) is {val} in row "
            f"{int(bad_r[0])} of this batch ({bad_r.size} non-finite value(s) in all); "
            "features must be finite"
        )
    return x


def score_matrix(model: ScoringModel, x: np.ndarray) -> np.ndarray:
    """Churn probability for each row of a checked float32 matrix, as a float32 vector.

    ONNX Runtime writes straight into a numpy buffer bound as the output (io_binding): about
    15% faster per 2048-row call than `session.run` (bench/RESULTS_scoring.md), and the buffer
    becomes the Arrow result without a copy. ORT refuses an output of another shape or type.
    """
    rows = x.shape[0]
    out = np.empty((rows, 1), dtype=np.float32)
    binding = model.session.io_binding()
    binding.bind_cpu_input(INPUT_NAME, x)
    binding.bind_output(OUTPUT_NAME, "cpu", 0, np.float32, out.shape, out.ctypes.data)
    try:
        model.session.run_with_iobinding(binding)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise RuntimeError(
            f"model {model.version}: scoring failed (expected '{OUTPUT_NAME}' float32 "
            f"({rows}, 1)): {exc}"
        ) from exc
    return out.reshape(-1)


def occlusion_impacts(model: ScoringModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact occlusion: p(x) - p(x with feature i at its median), in one ONNX Runtime call.

    The batch is tiled N + 1 times (copy 0 unchanged, copy i with feature i at its median).

    Returns:
        (p [rows], impact [rows, N]), float32.
    """
    rows, n = x.shape
    tiled = np.empty((n + 1, rows, n), dtype=np.float32)
    tiled[:] = x
    tiled[np.arange(1, n + 1), :, np.arange(n)] = model.medians[:, None]
    p_all = score_matrix(model, tiled.reshape((n + 1) * rows, n)).reshape(n + 1, rows)
    return p_all[0], (p_all[0][None, :] - p_all[1:]).T


def attribution_impacts(model: ScoringModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's `churn_attribution` output (first-order occlusion), in one call.

    Runs the explainer session (the model itself when it has the output, or the explainer
    file named in its metadata).

    Returns:
        (p [rows], impact [rows, N]), float32.
    """
    assert model.explainer is not None
    p, attr = model.explainer.run([OUTPUT_NAME, ATTRIBUTION_NAME], {INPUT_NAME: x})
    if attr.shape != x.shape:
        raise RuntimeError(f"model {model.version}: '{ATTRIBUTION_NAME}' has shape {attr.shape}")
    return p.reshape(-1), attr


def top_reasons(
    x: np.ndarray, impact: np.ndarray, names: pa.Array, k: int = N_REASONS
) -> pa.Array:
    """Build the `churn_reasons` list per row: the top-k positive impacts, largest first.

    Args:
        x: Features [rows, N].
        impact: Impacts [rows, N].
        names: Feature names as an Arrow string array of length N.
        k: How many reasons at most.

    Returns:
        A list<struct<feature, value, impact>> Arrow array with one list per row.
    """
    rows, n = impact.shape
    k = min(k, n)
    # k argmax passes: much faster than argpartition/argsort along short rows, and sorted
    work = np.array(impact, dtype=np.float32, copy=True)
    r = np.arange(rows)
    top = np.empty((rows, k), dtype=np.intp)
    top_impact = np.empty((rows, k), dtype=np.float32)
    for j in range(k):
        a = work.argmax(axis=1)
        top[:, j] = a
        top_impact[:, j] = work[r, a]
        work[r, a] = -np.inf
    keep = top_impact > 0
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    cols = top[keep]
    row_idx = np.nonzero(keep)[0]
    items = pa.StructArray.from_arrays(
        [
            names.take(pa.array(cols)),
            pa.array(x[row_idx, cols].astype(np.float32, copy=False)),
            pa.array(top_impact[keep].astype(np.float32, copy=False)),
        ],
        fields=list(REASON_TYPE.value_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=REASON_TYPE)


def make_score_function(model: ScoringModel) -> Callable[[pa.ChunkedArray], pa.Array]:
    """The arrow UDF body of `churn_score` for `model`."""
    names = model.feature_names

    def churn_score(features: pa.ChunkedArray) -> pa.Array:
        return pa.array(score_matrix(model, features_matrix(features, names, "churn_score")))

    return churn_score


def explainer_reasons(
    model: ScoringModel, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The explainer's top reasons, in one call (explainer_kind "reasons").

    Returns:
        (p [rows], feature [rows, R] int64, impact [rows, R] float32), sorted by impact.
    """
    assert model.explainer is not None
    rows, n = x.shape
    outs = [OUTPUT_NAME, REASON_FEATURE_NAME, REASON_IMPACT_NAME]
    if rows <= EXPLAINER_BATCH:
        p, feat, imp = model.explainer.run(outs, {INPUT_NAME: x})
    else:
        # the explainer's intermediates are [rows * K, hidden]: smaller runs stay in cache
        parts = [
            model.explainer.run(outs, {INPUT_NAME: x[s : s + EXPLAINER_BATCH]})
            for s in range(0, rows, EXPLAINER_BATCH)
        ]
        p, feat, imp = (np.concatenate([part[j] for part in parts]) for j in range(3))
    if feat.shape != imp.shape or feat.ndim != 2 or feat.shape[0] != rows:
        raise RuntimeError(
            f"model {model.version}: explainer outputs have shapes {feat.shape} / {imp.shape}"
        )
    if feat.size and (feat.min() < 0 or feat.max() >= n):
        raise RuntimeError(f"model {model.version}: explainer named a feature outside 0..{n - 1}")
    return p.reshape(-1), feat, imp


def sorted_reasons(
    x: np.ndarray, feat: np.ndarray, impact: np.ndarray, names: pa.Array, k: int = N_REASONS
) -> pa.Array:
    """Build the `churn_reasons` lists from reasons already sorted per row (largest first).

    Only positive impacts are reasons; at most k per row.
    """
    rows = x.shape[0]
    feat, impact = feat[:, :k], impact[:, :k]
    keep = impact > 0
    # sorted rows: the kept entries are a prefix, but do not rely on it (a mask, in row-major
    # order, keeps each row's order whatever the layout)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1, dtype=np.int32), out=offsets[1:])
    values = np.take_along_axis(x, feat, axis=1)
    items = pa.StructArray.from_arrays(
        [
            names.take(feat[keep]),
            pa.array(values[keep]),
            pa.array(impact[keep].astype(np.float32, copy=False)),
        ],
        fields=list(REASON_TYPE.value_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=REASON_TYPE)


def make_explain(
    model: ScoringModel, method: ReasonsMethod = "auto"
) -> Callable[[np.ndarray], tuple[np.ndarray, pa.Array]]:
    """(p [rows], reasons list array) for a checked float32 matrix, by `method`.

    Args:
        model: The verified model.
        method: "occlusion" (exact, N + 1 model evaluations per row), "explainer" (the model's
            explainer: its top reasons, or its `churn_attribution` output; "attribution" is
            the same) or "auto" (the explainer when the model has one, else occlusion).

    Returns:
        A function of x: the probability from the same network pass as the reasons (the
        explainer's forward pass, or copy 0 of the occlusion batch), and the reasons.
    """
    if method == "attribution":
        method = "explainer"
    if method == "auto":
        method = "explainer" if model.has_attribution else "occlusion"
    if method == "explainer" and not model.has_attribution:
        raise ValueError(f"model {model.version} has no explainer")
    names_arr = pa.array(model.feature_names, type=pa.string())

    if method == "explainer" and model.explainer_kind == "reasons":

        def explain_sorted(x: np.ndarray) -> tuple[np.ndarray, pa.Array]:
            p, feat, imp = explainer_reasons(model, x)
            return p, sorted_reasons(x, feat, imp, names_arr)

        return explain_sorted

    impacts = attribution_impacts if method == "explainer" else occlusion_impacts

    def explain_all(x: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        p, impact = impacts(model, x)
        return p, top_reasons(x, impact, names_arr)

    return explain_all


def make_reasons_function(
    model: ScoringModel, method: ReasonsMethod = "auto"
) -> Callable[[pa.ChunkedArray], pa.Array]:
    """The arrow UDF body of `churn_reasons` for `model` (`method`: see `make_explain`)."""
    names = model.feature_names
    explain = make_explain(model, method)

    def churn_reasons(features: pa.ChunkedArray) -> pa.Array:
        return explain(features_matrix(features, names, "churn_reasons"))[1]

    return churn_reasons


def make_score_and_reasons_function(
    model: ScoringModel, method: ReasonsMethod = "auto"
) -> Callable[[pa.ChunkedArray], pa.Array]:
    """The arrow UDF body of `churn_score_and_reasons`: one network pass for both.

    The probability comes from the pass that computes the reasons (`make_explain`), so the
    network runs once per row instead of twice (churn_score + churn_reasons).
    """
    names = model.feature_names
    explain = make_explain(model, method)

    def churn_score_and_reasons(features: pa.ChunkedArray) -> pa.Array:
        p, reasons = explain(features_matrix(features, names, "churn_score_and_reasons"))
        return pa.StructArray.from_arrays(
            [pa.array(p.astype(np.float32, copy=False)), reasons], fields=list(SCORED_TYPE)
        )

    return churn_score_and_reasons


def _keep(fn: Callable[..., Any]) -> Callable[..., Any]:
    with _KEEP_ALIVE_LOCK:
        _KEEP_ALIVE.append(fn)
    return fn


def _existing_functions(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select distinct function_name from duckdb_functions() where function_name in "
        f"({', '.join('?' for _ in FUNCTION_NAMES)})",
        list(FUNCTION_NAMES),
    ).fetchall()
    return {r[0] for r in rows}


def _clear_own(con: duckdb.DuckDBPyConnection) -> None:
    """Remove our functions when this very connection registered them (re-registration)."""
    for name in FUNCTION_NAMES:
        with contextlib.suppress(duckdb.Error):  # not registered by this connection
            con.remove_function(name)


def _registered_elsewhere(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    """True when another connection of this database already registered `version`.

    Raises:
        RuntimeError: The functions exist for another model (or as 'unavailable' stubs): DuckDB
            can only remove a function through the connection that registered it.
    """
    existing = _existing_functions(con)
    if not existing:
        return False
    try:
        current = con.execute("select churn_model_version()").fetchall()[0][0]
    except duckdb.Error as exc:
        current = f"unavailable ({exc})"
    if existing == set(FUNCTION_NAMES) and current == version:
        return True
    raise RuntimeError(
        f"the churn functions are already registered on this database by another connection "
        f"(model {current}); DuckDB can only replace them through that connection: close every "
        "connection to this database and register again"
    )


def register(
    con: duckdb.DuckDBPyConnection,
    model: str | os.PathLike[str] | ScoringModel | None = None,
    *,
    reasons: ReasonsMethod = "auto",
) -> ScoringModel:
    """Register the scoring functions on the database behind `con`.

    Functions belong to the database instance, so every connection and cursor of it sees them.
    Register on the connection that lives longest (dbt-duckdb: the one handed to
    `configure_connection`), not on a short-lived cursor.

    Args:
        con: A DuckDB connection with no unread result.
        model: None for the active model of this database's `main.model_registry`; a
            `model_version`; a path to an ONNX file; or an already loaded model.
        reasons: How `churn_reasons` computes impacts (see `make_reasons_function`).

    Returns:
        The model the functions use.

    Raises:
        scoring.model.NoActiveModelError: No active model (and `model` is None).
        scoring.model.ModelError: The model is missing, tampered or does not match the features.
    """
    m = model if isinstance(model, ScoringModel) else load_model(con, model)
    _clear_own(con)
    if _registered_elsewhere(con, m.version):
        return m
    arg: list[Any] = [f"FLOAT[{m.n_features}]"]  # list[str] does not match the stubs (invariant)
    thresholds = dict(m.thresholds)
    version = m.version

    def churn_model_version() -> str:
        return version

    def churn_model_thresholds() -> dict[str, float]:
        return thresholds

    batch_functions: list[tuple[str, Callable[..., Any], str]] = [
        ("churn_score", make_score_function(m), "FLOAT"),
        ("churn_reasons", make_reasons_function(m, reasons), REASON_SQL_TYPE),
        (
            "churn_score_and_reasons",
            make_score_and_reasons_function(m, reasons),
            SCORED_SQL_TYPE,
        ),
    ]
    for name, function, return_type in batch_functions:
        con.create_function(
            name, _keep(function), arg, return_type, type=ARROW, null_handling=SPECIAL
        )
    con.create_function("churn_model_version", _keep(churn_model_version), [], "VARCHAR")
    con.create_function(
        "churn_model_thresholds", _keep(churn_model_thresholds), [], THRESHOLDS_SQL_TYPE
    )
    return m


def register_unavailable(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    """Register stand-ins that raise `reason` when called (no usable model yet).

    They take any FLOAT[] so that SQL which calls them binds and fails with the reason.
    Nothing is registered when the functions already exist on this database.
    """
    _clear_own(con)
    if _existing_functions(con):
        return

    def unavailable_1(_: Any) -> Any:
        raise RuntimeError(reason)

    def unavailable_0() -> Any:
        raise RuntimeError(reason)

    f1, f0 = _keep(unavailable_1), _keep(unavailable_0)
    con.create_function("churn_score", f1, ["FLOAT[]"], "FLOAT", type=ARROW)
    con.create_function("churn_reasons", f1, ["FLOAT[]"], REASON_SQL_TYPE, type=ARROW)
    con.create_function("churn_score_and_reasons", f1, ["FLOAT[]"], SCORED_SQL_TYPE, type=ARROW)
    con.create_function("churn_model_version", f0, [], "VARCHAR", side_effects=True)
    con.create_function("churn_model_thresholds", f0, [], THRESHOLDS_SQL_TYPE, side_effects=True)
