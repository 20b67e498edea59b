"""Read `main.training_examples` through Arrow and split it by time without label leakage.

The split rule (horizon h, label window of snapshot S = [S, S + h)):
    test = the latest `test_snapshots` snapshots (training_examples holds only snapshots whose
    horizon has elapsed, so these are the latest fully-labelled ones);
    validation = the latest `val_snapshots` snapshots V with V + h <= first test snapshot;
    train = every snapshot S with S + h <= first validation snapshot.
So no label window used for fitting is still open at the first date it is evaluated on.

Short history (fewer than `min_train_snapshots` train snapshots after two one-horizon gaps,
e.g. a 90-day horizon on half a year of data): the test part and its one-horizon gap stay as
they are; only the gap between train and validation shrinks, to the largest g < h that leaves
`min_train_snapshots` train snapshots (train = every S with S + g <= first validation
snapshot; g >= 1 day, so the parts never share a date). Validation then only chooses epochs,
hyperparameters and calibration (its label windows may overlap the train ones); the test is
as leak-free as ever. The split records g as `val_gap_days`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

TABLE = "main.training_examples"
CATALOG = "main.feature_catalog"


class DataError(ValueError):
    """The training table or feature catalog is missing or does not match the contract."""


@dataclass(frozen=True)
class Examples:
    """Training examples as numpy arrays, rows ordered by (snapshot_date, customer_id).

    Attributes:
        customer_ids: Customer ids, object array of str, shape [n].
        snapshot_dates: Snapshot dates, datetime64[D], shape [n].
        X: Feature matrix, float32, shape [n, N], columns in `feature_names` order.
        y: Labels (1 = churned), int8, shape [n].
        feature_names: The ordered feature list (from `main.feature_catalog`).
    """

    customer_ids: np.ndarray
    snapshot_dates: np.ndarray
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, mask: np.ndarray) -> Examples:
        """Rows where `mask` is true (or the given row indices), same feature list."""
        return Examples(
            self.customer_ids[mask],
            self.snapshot_dates[mask],
            self.X[mask],
            self.y[mask],
            self.feature_names,
        )

    def fingerprint(self) -> str:
        """SHA-256 of the content (ids, dates, features, labels, feature names)."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.feature_names).encode())
        h.update(self.snapshot_dates.astype("datetime64[D]").astype(np.int64).tobytes())
        h.update("\x1f".join(map(str, self.customer_ids.tolist())).encode())
        h.update(np.ascontiguousarray(self.X, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(self.y, dtype=np.int8).tobytes())
        return h.hexdigest()


def feature_names_from_db(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ordered feature list from `main.feature_catalog` (ordered by position).

    Raises:
        DataError: The catalog is missing, empty, or its positions are not 1..N.
    """
    try:
        rows = con.execute(
            f"select position, feature_name from {CATALOG} order by position"
        ).fetchall()
    except duckdb.CatalogException as exc:
        raise DataError(f"{CATALOG} does not exist: build the feature marts first") from exc
    if not rows:
        raise DataError(f"{CATALOG} is empty")
    positions = [int(r[0]) for r in rows]
    if positions != list(range(1, len(rows) + 1)):
        raise DataError(f"{CATALOG}.position must be 1..{len(rows)}, got {positions}")
    names = [str(r[1]) for r in rows]
    if len(set(names)) != len(names):
        raise DataError(f"{CATALOG} has duplicate feature names")
    return names


def customer_sample(
    con: duckdb.DuckDBPyConnection, max_examples: int | None
) -> tuple[str | None, str | None]:
    """A predicate keeping a fixed hash sample of customers when `main.training_examples` has
    more than `max_examples` rows, and a line saying so; (None, None) when all rows fit.

    Whole customers are kept (every snapshot of a kept customer), chosen by a hash of the id, so
    the same data gives the same sample whatever the thread count; the fraction is rounded up to
    1/10,000.
    """
    if max_examples is None:
        return None, None
    try:
        n = con.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
    except duckdb.CatalogException:
        return None, None  # load_training_examples says what is missing
    if n <= max_examples:
        return None, None
    keep = -(-max_examples * 10_000 // n)
    return (
        f"hash(customer_id) % 10000 < {keep}",
        f"training on a hash sample of {keep / 100:.2f}% of customers: {n} examples > "
        f"max_examples {max_examples}",
    )


def load_training_examples(
    con: duckdb.DuckDBPyConnection,
    feature_names: Sequence[str] | None = None,
    *,
    where: str | None = None,
) -> Examples:
    """Load `main.training_examples` as numpy arrays through Arrow (no per-row Python).

    Args:
        con: An open DuckDB connection.
        feature_names: The expected ordered feature list; read from the catalog when None.
        where: Optional SQL predicate to restrict rows (e.g. a date range).

    Returns:
        The examples, ordered by snapshot_date, customer_id.

    Raises:
        DataError: The table is missing, the FLOAT[N] length differs from the feature list, a
            feature column is missing, or a feature/label is NULL or not finite.
    """
    names = list(feature_names) if feature_names is not None else feature_names_from_db(con)
    try:
        columns = {r[0]: r[1] for r in con.execute(f"describe {TABLE}").fetchall()}
    except duckdb.CatalogException as exc:
        raise DataError(f"{TABLE} does not exist: build the feature marts first") from exc
    required = ["customer_id", "snapshot_date", "features", "is_churned"]
    missing = [c for c in required + names if c not in columns]
    if missing:
        raise DataError(f"{TABLE} lacks columns {missing}")
    expected_type = f"FLOAT[{len(names)}]"
    if columns["features"] != expected_type:
        raise DataError(
            f"{TABLE}.features is {columns['features']} but the feature catalog lists "
            f"{len(names)} features ({expected_type} expected)"
        )
    query = f"select customer_id, snapshot_date, features, is_churned from {TABLE}"
    if where:
        query += f" where {where}"
    query += " order by snapshot_date, customer_id"
    table = con.sql(query).to_arrow_table()
    return _examples_from_arrow(table, names)


def _examples_from_arrow(table: pa.Table, names: list[str]) -> Examples:
    n_features = len(names)
    for col in ("customer_id", "snapshot_date", "features", "is_churned"):
        if table.column(col).null_count:
            raise DataError(f"{TABLE}.{col} has {table.column(col).null_count} NULL rows")
    feats = table.column("features").combine_chunks()
    if isinstance(feats, pa.ChunkedArray):  # an empty table gives an empty chunked array
        feats = pa.array([], type=pa.list_(pa.float32(), n_features))
    values = feats.flatten().to_numpy(zero_copy_only=False)
    X = np.asarray(values, dtype=np.float32).reshape(len(table), n_features)
    bad = ~np.isfinite(X)
    if bad.any():
        cols = [names[i] for i in np.flatnonzero(bad.any(axis=0))]
        raise DataError(
            f"{TABLE}.features has NULL/NaN/inf values in {cols}: coalesce them in SQL"
        )
    y = table.column("is_churned").to_numpy(zero_copy_only=False).astype(np.int8)
    dates = table.column("snapshot_date").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    ids = np.asarray(table.column("customer_id").to_pylist(), dtype=object)
    return Examples(ids, dates, X, y, tuple(names))


@dataclass(frozen=True)
class TimeSplit:
    """Snapshot dates of each part of an out-of-time split."""

    train_dates: tuple[dt.date, ...]
    val_dates: tuple[dt.date, ...]
    test_dates: tuple[dt.date, ...]
    horizon_days: int
    val_gap_days: int | None = None  # train -> validation gap; None = horizon_days

    @property
    def train_val_gap_days(self) -> int:
        """Days required between a train snapshot and the first validation snapshot."""
        return self.horizon_days if self.val_gap_days is None else self.val_gap_days

    @property
    def short_history(self) -> bool:
        """Whether the train -> validation gap is shorter than the horizon (see module doc)."""
        return self.train_val_gap_days < self.horizon_days

    def refit_dates(self, dates: Sequence[dt.date] | np.ndarray) -> tuple[dt.date, ...]:
        """Every snapshot S in `dates` with S + h <= first test snapshot (train, validation and
        the snapshots between them): what a final refit may use without touching the test."""
        h = dt.timedelta(days=self.horizon_days)
        return tuple(d for d in _sorted_dates(dates) if d + h <= self.test_dates[0])

    def masks(self, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean row masks (train, validation, test) for an array of snapshot dates."""
        d = dates.astype("datetime64[D]")
        return tuple(  # type: ignore[return-value]
            np.isin(d, np.array(part, dtype="datetime64[D]"))
            for part in (self.train_dates, self.val_dates, self.test_dates)
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary."""
        return {
            "horizon_days": self.horizon_days,
            "validation_gap_days": self.train_val_gap_days,
            "train": [str(self.train_dates[0]), str(self.train_dates[-1]), len(self.train_dates)],
            "validation": [str(self.val_dates[0]), str(self.val_dates[-1]), len(self.val_dates)],
            "test": [str(self.test_dates[0]), str(self.test_dates[-1]), len(self.test_dates)],
        }


def _sorted_dates(dates: Sequence[dt.date] | np.ndarray) -> list[dt.date]:
    arr = np.unique(np.asarray(dates, dtype="datetime64[D]"))
    return [d.item() for d in arr]


def time_split(
    snapshot_dates: Sequence[dt.date] | np.ndarray,
    horizon_days: int,
    *,
    val_snapshots: int = 2,
    test_snapshots: int = 1,
    short_history: bool = True,
    min_train_snapshots: int = 8,
) -> TimeSplit:
    """Split snapshot dates into train / validation / test with a one-horizon gap between each.

    Args:
        snapshot_dates: Snapshot dates (any order, duplicates allowed).
        horizon_days: The churn horizon in days (label window length).
        val_snapshots: How many snapshots validate (the latest ones that fit before the test gap).
        test_snapshots: How many of the latest snapshots are the test set.
        short_history: When two one-horizon gaps do not fit, shrink the train -> validation
            gap (module docstring) instead of failing. The validation -> test gap never shrinks.
        min_train_snapshots: Train snapshots the shrunken gap should leave (fewer if there are
            fewer before the validation part).

    Returns:
        The split; it satisfies `check_split`.

    Raises:
        DataError: Too few snapshots for a train part after the gaps.
    """
    if horizon_days < 1 or val_snapshots < 1 or test_snapshots < 1 or min_train_snapshots < 1:
        raise ValueError(
            "horizon_days, val_snapshots, test_snapshots and min_train_snapshots must be >= 1"
        )
    dates = _sorted_dates(snapshot_dates)
    h = dt.timedelta(days=horizon_days)
    if len(dates) < test_snapshots + 2:
        raise DataError(f"only {len(dates)} snapshot dates: too few for train/validation/test")
    test = dates[-test_snapshots:]
    val_pool = [d for d in dates if d + h <= test[0]]
    val = val_pool[-val_snapshots:]
    train = [d for d in dates if val and d + h <= val[0]]
    gap = None
    if val and len(train) < min_train_snapshots and short_history:
        before = [d for d in dates if d < val[0]]
        if before:
            last_needed = before[min(min_train_snapshots, len(before)) - 1]
            gap = min(horizon_days - 1, (val[0] - last_needed).days)
            train = [d for d in before if d + dt.timedelta(days=gap) <= val[0]]
    if not val or not train:
        raise DataError(
            f"{len(dates)} snapshots from {dates[0]} to {dates[-1]} are too few for a "
            f"train/validation/test split with a {horizon_days}-day gap before the test "
            f"snapshot (need labelled snapshots spanning more than {horizon_days} days)"
            if short_history
            else f"{len(dates)} snapshots from {dates[0]} to {dates[-1]} are too few for a "
            f"train/validation/test split with {horizon_days}-day gaps "
            f"(need data spanning at least {2 * horizon_days} days before the test snapshot)"
        )
    split = TimeSplit(tuple(train), tuple(val), tuple(test), horizon_days, gap)
    check_split(split)
    return split


def check_split(split: TimeSplit) -> None:
    """Raise AssertionError if a label window of an earlier part is open at a later part's start.

    Checks: every train snapshot S has S + g <= first validation snapshot (g = the split's
    train -> validation gap: h, or 1 <= g < h for a short history), every validation snapshot
    V has V + h <= first test snapshot, and the parts do not overlap.
    """
    h = dt.timedelta(days=split.horizon_days)
    g = dt.timedelta(days=split.train_val_gap_days)
    if not (split.train_dates and split.val_dates and split.test_dates):
        raise AssertionError("every part of the split needs at least one snapshot")
    if not 1 <= g.days <= h.days:
        raise AssertionError(f"train -> validation gap {g.days}d is not within 1..{h.days}d")
    if max(split.train_dates) + g > min(split.val_dates):
        raise AssertionError(
            f"train snapshot {max(split.train_dates)} + {g.days}d overlaps validation"
        )
    if max(split.val_dates) + h > min(split.test_dates):
        raise AssertionError(
            f"validation snapshot {max(split.val_dates)} + {h.days}d overlaps test"
        )


def time_folds(
    train_dates: Sequence[dt.date],
    horizon_days: int,
    *,
    n_folds: int = 2,
    eval_snapshots: int = 2,
) -> list[tuple[tuple[dt.date, ...], tuple[dt.date, ...]]]:
    """Expanding-window folds inside the training period for the hyperparameter search.

    Fold k evaluates on a block of `eval_snapshots` snapshots (the last blocks of the training
    period, oldest fold first) and fits on every earlier snapshot S with S + h <= the block's
    first date. Folds without any fit snapshot are dropped.

    Returns:
        A list of (fit_dates, eval_dates), possibly empty when the period is too short.
    """
    dates = _sorted_dates(train_dates)
    h = dt.timedelta(days=horizon_days)
    folds = []
    for k in range(n_folds, 0, -1):
        end = len(dates) - (k - 1) * eval_snapshots
        start = end - eval_snapshots
        if start < 1:
            continue
        block = dates[start:end]
        fit = [d for d in dates if d + h <= block[0]]
        if fit:
            folds.append((tuple(fit), tuple(block)))
    return folds
