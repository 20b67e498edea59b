"""Trailing-window sums per (customer, snapshot) with numpy: the boundary lookups behind the
features (docs/features.md), used by the dbt Python model int_customer_feature_windows.

The daily activity table (one row per customer and day, measures as columns) is read in chunks
of customers. Each row gets an int64 key `customer_index << 32 | day`, the chunk is sorted by
key, and every measure gets a prefix sum over the chunk. For a snapshot T the rows known before
T are the keys below key(customer, T), found with np.searchsorted, so a window [T - w, T) is
P[idx(T)] - P[idx(T - w)] and "all history before T" is P[idx(T)] - P[idx(customer start)].
The last day with some activity before T is a searchsorted on the keys of the rows that have it.

The arithmetic is exact, so a feature at T depends only on the customer's rows before T (the
leakage test compares builds on truncated and full data bit for bit): every measure is summed as
int64, DECIMAL(p, s) in units of 10^-s, DOUBLE in millionths (a day's browse seconds are kept to
the microsecond). Prefix sums that overflow int64 wrap around, and differences of wrapped sums
are still exact whenever the window's own sum fits in int64.

Incremental runs: a daily row dated before (the run's earliest snapshot - the widest window) is
in no window of any pair; it counts only towards the lifetime sums and the last-seen days. The
dbt model int_customer_collapsed_history keeps the rows before a cut collapsed, one row per
customer (the sums in exact units, and the last day with each last-seen measure > 0:
`collapsed_history`), and brings it forward each run by adding only the daily rows between its
previous cut and the new one (the latest calendar snapshot's widest window). When no window of
this run's pairs reaches before the cut (an incremental week), the window model reads the
collapsed row and the customer's daily rows from the cut on (`window_batches`), so a new week
costs in proportion to the recent rows, not to all history; a full build reads every row.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from churnwatch import window_kernel as kernel

DAY_OFFSET = 1 << 31  # days since 1970 shifted to be non-negative in the key's low 32 bits
DOUBLE_SCALE = 1_000_000  # DOUBLE measures are summed in millionths
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class WindowSpec:
    """Which sums to compute.

    Attributes:
        lifetime: measures summed over all history before T (`<measure>_all`).
        windows: days w -> measures summed over [T - w, T) (`<measure>_<w>d`).
        last_seen: name -> measure: `last_<name>_date` is the last day before T with
            measure > 0 (NULL if none).
    """

    lifetime: tuple[str, ...]
    windows: Mapping[int, tuple[str, ...]]
    last_seen: Mapping[str, str]

    @classmethod
    def from_config(
        cls, lifetime: Sequence[str], windows: Mapping, last_seen: Mapping
    ) -> WindowSpec:
        """Build from the dbt model config (YAML lists and mappings)."""
        return cls(
            lifetime=tuple(str(m) for m in lifetime),
            windows={int(w): tuple(str(m) for m in ms) for w, ms in windows.items()},
            last_seen={str(k): str(v) for k, v in last_seen.items()},
        )

    def measures(self) -> list[str]:
        """Every measure the spec reads, in first-use order."""
        seen: dict[str, None] = {}
        for m in (*self.lifetime, *(m for ms in self.windows.values() for m in ms)):
            seen.setdefault(m, None)
        for m in self.last_seen.values():
            seen.setdefault(m, None)
        return list(seen)


@dataclass(frozen=True)
class MeasureKind:
    """How a measure is summed exactly and returned: int64 units of 10^-scale."""

    scale: int  # 0 for integers, s for DECIMAL(p, s), 6 for DOUBLE
    out: str  # 'int', 'decimal' or 'double'

    @classmethod
    def from_duckdb_type(cls, column: str, type_name: str) -> MeasureKind:
        t = type_name.upper()
        if t in (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "BOOLEAN",
        ):
            return cls(0, "int")
        if t.startswith("DECIMAL"):
            scale = int(t[t.index("(") + 1 : t.index(")")].split(",")[1])
            return cls(scale, "decimal")
        if t in ("DOUBLE", "FLOAT", "REAL"):
            return cls(6, "double")
        raise TypeError(
            f"int_customer_daily_activity.{column}: measure type {type_name} is not "
            "summable (use an integer, DECIMAL or DOUBLE)"
        )

    def sql(self, column: str) -> str:
        """SQL turning the column into exact int64 units."""
        q = f'"{column}"'
        if self.out == "int":
            return f"{q}::bigint"
        if self.out == "decimal":
            return f"({q} * {10**self.scale})::bigint"
        return f"round({q} * {DOUBLE_SCALE})::bigint"

    def arrow_type(self) -> pa.DataType:
        if self.out == "int":
            return pa.int64()
        if self.out == "decimal":
            return pa.decimal128(38, self.scale)
        return pa.float64()

    def to_arrow(self, units: np.ndarray) -> pa.Array:
        if self.out == "int":
            return pa.array(units)
        if self.out == "double":
            return pa.array(units / DOUBLE_SCALE)
        # DECIMAL: the 128-bit little-endian integer is (units, sign extension)
        buf = np.empty((len(units), 2), dtype=np.int64)
        buf[:, 0] = units
        buf[:, 1] = units >> 63
        return pa.Array.from_buffers(self.arrow_type(), len(units), [None, pa.py_buffer(buf)])


NO_DAY = np.int64(-1 << 62)  # last_<name>_date of a pair with nothing seen
_SKIPPED_DAY = 0xFFFFFFFF  # the day bits of a skipped row's key: after every real day
MAX_RUNS = 8  # daily rows in more runs than this (each in key order) are sorted first


@dataclass(frozen=True)
class Collapsed:
    """Each customer's daily rows dated before `before_day`, collapsed (see module docstring).

    Attributes:
        before_day: the rows collapsed are those with day < before_day; every window of every
            pair must start on or after it.
        sums: lifetime measure -> int64 units per customer index (0 where nothing collapsed).
        last: last-seen name -> the last collapsed day with that measure > 0, per customer
            index (NO_DAY where none).
    """

    before_day: int
    sums: Mapping[str, np.ndarray]
    last: Mapping[str, np.ndarray]


def output_schema(spec: WindowSpec, kinds: Mapping[str, MeasureKind]) -> pa.Schema:
    """customer_id, snapshot_date, `<m>_all`, `last_<name>_date`, `<m>_<w>d`."""
    fields = [pa.field("customer_id", pa.string()), pa.field("snapshot_date", pa.date32())]
    fields += [pa.field(f"{m}_all", kinds[m].arrow_type()) for m in spec.lifetime]
    fields += [pa.field(f"last_{name}_date", pa.date32()) for name in spec.last_seen]
    for w, measures in spec.windows.items():
        fields += [pa.field(f"{m}_{w}d", kinds[m].arrow_type()) for m in measures]
    return pa.schema(fields)


def _keys(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (customer.astype(np.int64) << 32) | (day.astype(np.int64) + DAY_OFFSET)


def window_sums(
    daily_customer: np.ndarray,
    daily_day: np.ndarray,
    units: Sequence[np.ndarray],
    pair_customer: np.ndarray,
    pair_day: np.ndarray,
    spec: WindowSpec,
    measures: Sequence[str],
    collapsed: Collapsed | None = None,
) -> dict[str, np.ndarray]:
    """The sums of `spec` for each pair, from daily rows of the same customers.

    Args:
        daily_customer: customer index of each daily row (a negative index: skip the row).
        daily_day: its day (days since 1970-01-01).
        units: per measure, its integer values in exact units (any integer type; summed in
            int64), one per daily row (a (len(measures), rows) array, or any sequence of such
            rows: each is read once, in turn, so a lazy sequence keeps one measure in memory
            at a time).
        pair_customer: customer index of each (customer, snapshot) pair.
        pair_day: the snapshot day T of each pair.
        spec: what to compute.
        measures: the measure of each row of `units`.
        collapsed: the customers' older rows, collapsed; then `daily_*` hold only the rows
            dated on or after `collapsed.before_day`.

    Returns:
        `<m>_all` and `<m>_<w>d` as int64 units, `last_<name>_date` as int64 days with -1 << 62
        where nothing was seen.
    """
    col = {m: i for i, m in enumerate(measures)}
    pair_customer = pair_customer.astype(np.int64)
    pair_day = pair_day.astype(np.int64)
    if collapsed is not None and len(pair_day):
        widest = max(spec.windows, default=0)
        if int(pair_day.min()) - widest < collapsed.before_day:
            raise ValueError(
                f"a {widest}-day window of a pair starts before the collapsed rows' end "
                f"(day {collapsed.before_day})"
            )
        if len(daily_day) and int(daily_day.min()) < collapsed.before_day:
            raise ValueError("a daily row is dated before the collapsed rows' end")
    customer = np.asarray(daily_customer).astype(np.int64, copy=False)
    key = _keys(customer, daily_day)
    outside = customer < 0  # a negative customer index: a row to skip
    if outside.any():
        # a skipped row stays where it is, keyed after every day of the chunk customer stored
        # before it (day bits all ones): outside every pair's range, and the rows stay in key
        # order (no copy of the measures to drop it)
        skipped, known = np.flatnonzero(outside), np.flatnonzero(~outside)
        j = np.searchsorted(known, skipped) - 1
        previous = np.full(len(skipped), -1, dtype=np.int64)
        if len(known):
            previous = np.where(j >= 0, customer.take(known.take(np.maximum(j, 0))), -1)
        key[skipped] = (previous << 32) | _SKIPPED_DAY
    # The rows come in key order, or as a few runs in key order (an incremental run appends
    # its new days to the daily table in customer order): each run is summed where it lies,
    # through one prefix sum over the rows as stored. Many runs: sorted (a copy of each
    # measure in key order).
    n = len(key)
    bounds = [0, *(np.flatnonzero(key[1:] < key[:-1]) + 1).tolist(), n]
    order = None
    if len(bounds) - 1 > MAX_RUNS:
        order = np.argsort(key, kind="stable")
        key = key[order]
        bounds = [0, n]
    runs = [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    _check_one_row_per_day(key, runs)

    # where each pair's sums start and end in each run (compiled: churnwatch/window_kernel.py),
    # pairs in (customer, day) order there; the sums are written in the caller's order
    windows = sorted(spec.windows)
    offsets = np.array([0, *windows], dtype=np.int64)
    pair_order = np.lexsort((pair_day, pair_customer))
    sorted_customer = pair_customer.take(pair_order)
    sorted_day = pair_day.take(pair_order)
    run_lo = np.array([a for a, _ in runs], dtype=np.int64)
    run_hi = np.array([b for _, b in runs], dtype=np.int64)
    row_day = np.asarray(daily_day).astype(np.int64, copy=False)
    row_customer = customer
    if order is not None:
        row_customer, row_day = row_customer.take(order), row_day.take(order)
    pos = np.zeros((len(runs), len(offsets), len(pair_day)), dtype=np.int64)
    seg = np.zeros((len(runs), len(pair_day)), dtype=np.int64)
    kernel.pair_positions(
        row_customer, row_day, run_lo, run_hi, sorted_customer, sorted_day, offsets, pos, seg
    )

    windows_of: dict[str, list[int]] = {}
    for w, ms in spec.windows.items():
        for m in ms:
            windows_of.setdefault(m, []).append(w)
    seen_by: dict[str, list[str]] = {}
    for name, m in spec.last_seen.items():
        seen_by.setdefault(m, []).append(name)

    # one measure at a time: its prefix sums in a reused buffer (int64 from the measure's own
    # integer type; int64 may wrap, differences stay exact)
    buffer = np.empty(n + 1, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for m in measures:
        if m not in windows_of and m not in seen_by and m not in spec.lifetime:
            continue
        u = np.asarray(units[col[m]])
        if u.dtype.kind not in "iu":
            u = u.astype(np.int64)
        elif u.dtype == np.uint64:
            u = u.view(np.int64)  # wraps as numpy's cumsum into int64 did
        if order is not None:
            u = u.take(order)
        for name in seen_by.get(m, ()):
            last = np.full(len(pair_day), NO_DAY, dtype=np.int64)
            kernel.last_seen(u, row_day, pos, seg, pair_order, last, buffer)
            if collapsed is not None:
                last = np.maximum(last, collapsed.last[name].take(pair_customer))
            out[f"last_{name}_date"] = last
        names = ([f"{m}_all"] if m in spec.lifetime else []) + [
            f"{m}_{w}d" for w in windows_of.get(m, ())
        ]
        if not names:
            continue
        offset_index = np.array(
            ([-1] if m in spec.lifetime else [])
            + [windows.index(w) + 1 for w in windows_of.get(m, ())],
            dtype=np.int64,
        )
        sums = np.empty((len(names), len(pair_day)), dtype=np.int64)
        kernel.measure_sums(u, pos, seg, offset_index, pair_order, sums, buffer)
        out.update(zip(names, sums))
        if m in spec.lifetime and collapsed is not None:
            out[f"{m}_all"] += collapsed.sums[m].take(pair_customer)
    return out


def _check_one_row_per_day(key: np.ndarray, runs: list[tuple[int, int]]) -> None:
    """Raises if two rows (skipped ones aside) share a customer and day, within a run in key
    order or across runs (each later run looked up in each earlier one)."""
    real = (key & 0xFFFFFFFF) != _SKIPPED_DAY
    for r, (a, b) in enumerate(runs):
        mine = key[a:b]
        if ((mine[1:] == mine[:-1]) & real[a + 1 : b]).any():
            raise ValueError("int_customer_daily_activity has two rows for one customer and day")
        for a0, b0 in runs[:r]:
            earlier = key[a0:b0]
            if not len(earlier):
                continue
            j = np.minimum(np.searchsorted(earlier, mine), len(earlier) - 1)
            if ((earlier.take(j) == mine) & real[a:b]).any():
                raise ValueError(
                    "int_customer_daily_activity has two rows for one customer and day"
                )


def _days(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(arr, pa.int32()).to_numpy(zero_copy_only=False)


class _Columns(Sequence):
    """The measure columns of a chunk as int64 numpy arrays, converted when read."""

    def __init__(self, table: pa.Table, measures: Sequence[str]):
        self.table, self.measures = table, list(measures)

    def __len__(self) -> int:
        return len(self.measures)

    def __getitem__(self, j):  # type: ignore[override]
        return self.table[self.measures[j]].to_numpy(zero_copy_only=False)


def window_batch(
    daily: pa.Table,
    pairs: pa.Table,
    n_customers: int,
    spec: WindowSpec,
    kinds: Mapping[str, MeasureKind],
    older: pa.Table | None = None,
    before_day: int | None = None,
) -> pa.RecordBatch:
    """One chunk of `n_customers` customers, each known by its index in the chunk (`idx`):
    `daily` (idx, day, measures in units; best in (idx, day) order), `pairs` (idx, customer_id,
    snapshot_date). `older` (idx, `<m>` for the lifetime measures in units, `last_<name>` in
    days or NULL), if given, collapses each customer's rows dated before `before_day`; `daily`
    then holds only the later ones."""
    measures = spec.measures()
    d_cust = daily["idx"].to_numpy(zero_copy_only=False)
    d_day = daily["day"].to_numpy(zero_copy_only=False)
    units = _Columns(daily, measures)
    p_day = _days(pairs["snapshot_date"])
    collapsed = None
    if older is not None:
        if before_day is None:
            raise ValueError("collapsed rows need before_day")
        o_cust = older["idx"].to_numpy(zero_copy_only=False)
        sums_old: dict[str, np.ndarray] = {}
        for m in spec.lifetime:
            sums_old[m] = np.zeros(n_customers, dtype=np.int64)
            sums_old[m][o_cust] = older[m].to_numpy(zero_copy_only=False)
        last_old: dict[str, np.ndarray] = {}
        for name in spec.last_seen:
            col = older[f"last_{name}"]
            last_old[name] = np.full(n_customers, NO_DAY, dtype=np.int64)
            valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
            days = pc.fill_null(pc.cast(col, pa.int64()), 0).to_numpy(zero_copy_only=False)
            last_old[name][o_cust[valid]] = days[valid]
        collapsed = Collapsed(before_day, sums_old, last_old)
    sums = window_sums(
        d_cust,
        d_day,
        units,
        pairs["idx"].to_numpy(zero_copy_only=False),
        p_day,
        spec,
        measures,
        collapsed,
    )
    schema = output_schema(spec, kinds)
    arrays: list[pa.Array] = [
        pc.cast(pairs["customer_id"], pa.string()).combine_chunks(),
        pc.cast(pairs["snapshot_date"], pa.date32()).combine_chunks(),
    ]
    for field in list(schema)[2:]:
        values = sums[field.name]
        if field.name.startswith("last_"):
            arrays.append(
                pa.array(values.astype(np.int32), type=pa.int32(), mask=values < -(1 << 40)).cast(
                    pa.date32()
                )
            )
        else:
            m = field.name.rsplit("_", 1)[0]
            arrays.append(kinds[m].to_arrow(values))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chunk_index(ids: pa.ChunkedArray | pa.Array, chunk: pa.Array) -> np.ndarray:
    """Each id's position in `chunk` (the chunk's distinct ids), -1 where it is not there (or
    NULL). Rows come in runs of one customer (the tables are stored in customer order), so each
    Arrow chunk is run-end encoded (Arrow's C++ compares the neighbours) and each run's id
    looked up once, rather than marking the runs by comparing every row's id with its
    neighbour's (at 1 M customers one week: 14-16 -> 5 ms for a chunk's 0.5 M daily rows
    measured alone, 0.77 -> 0.66 s of CPU over the whole model). A run cut by an Arrow chunk
    boundary is looked up twice, with the same result."""
    pieces = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    parts = []
    for piece in pieces:
        if not len(piece):
            continue
        runs = pc.run_end_encode(piece)
        position = pc.fill_null(pc.index_in(runs.values, value_set=chunk), -1)
        lengths = np.diff(runs.run_ends.to_numpy(zero_copy_only=False), prepend=0)
        parts.append(np.repeat(position.to_numpy(zero_copy_only=False).astype(np.int32), lengths))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _with_chunk_index(table: pa.Table, chunk: pa.Array) -> pa.Table:
    """`table` (customer_id first) with customer_id replaced by `idx`, the customer's position
    in `chunk`, -1 for customers not in the chunk (`window_sums` skips those rows while it puts
    the others in key order: no copy of the table here)."""
    idx = _chunk_index(table["customer_id"], chunk)
    return table.drop_columns(["customer_id"]).add_column(0, "idx", pa.array(idx))


def narrow_types(con, daily_sql: str, kinds: Mapping[str, MeasureKind]) -> dict[str, str]:
    """Per measure, the narrowest integer type that holds its units over the whole daily table,
    from DuckDB's column statistics (`stats()`: bounds that may be wider than the values, never
    narrower); BIGINT where they say nothing. Reading the measures this narrow halves what a
    window chunk moves from DuckDB to numpy (the sample shop's daily counts fit in a TINYINT).
    The reads use try_cast and fall back to BIGINT, so a wrong bound costs time, not exactness.
    """
    names = list(kinds)
    wide = {m: "bigint" for m in names}
    if not names:
        return wide
    try:
        rows = con.sql(
            "select " + ", ".join(f'stats("{m}")' for m in names) + f" from ({daily_sql}) limit 1"
        ).fetchall()
    except duckdb.Error:
        return wide
    if not rows:
        return wide
    types: dict[str, str] = {}
    for m, st in zip(names, rows[0]):
        types[m] = "bigint"
        try:
            scale = 10 ** kinds[m].scale
            lo, hi = float(st["min"]) * scale, float(st["max"]) * scale
        except (TypeError, KeyError, ValueError):
            continue  # no bounds (an empty table, another DuckDB's format)
        for name, bound in _NARROW:
            if -bound - 1 <= lo and hi <= bound:
                types[m] = name
                break
    return types


_NARROW = (("tinyint", 2**7 - 1), ("smallint", 2**15 - 1), ("integer", 2**31 - 1))


def _read(con, sql: str) -> pa.Table:
    """The query's rows, one chunk per column: numpy views of them are then free (converting a
    column of DuckDB's many small batches with to_numpy costs ~15 times a copy)."""
    result = con.sql(sql).arrow()
    table = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    return table.combine_chunks()


def measure_kinds(con, daily_sql: str, spec: WindowSpec) -> dict[str, MeasureKind]:
    """How each measure of `spec` is summed, from the daily table's column types."""
    rel = con.sql(f"select * from ({daily_sql}) limit 0")
    types = {c: str(t) for c, t in zip(rel.columns, rel.types)}
    missing = [m for m in spec.measures() if m not in types]
    if missing:
        raise ValueError(f"int_customer_daily_activity has no measure column {missing}")
    return {m: MeasureKind.from_duckdb_type(m, types[m]) for m in spec.measures()}


def _date(day: int) -> str:
    return f"(date '1970-01-01' + {int(day)})"


def collapsed_history(
    con,
    daily_sql: str,
    pairs_sql: str,
    spec: WindowSpec,
    previous_sql: str | None = None,
    log=None,
):
    """The rows of int_customer_collapsed_history: per customer, the daily rows dated before
    the cut (this run's latest calendar snapshot - the widest window) collapsed into `daily_rows`,
    `<m>_units` (each lifetime measure summed in exact int64 units, as `MeasureKind.sql`) and
    `last_<name>_date` (the last such day with that measure > 0, NULL if none); the cut is
    `collapsed_before`, the latest of the table (a customer's row may have an earlier one:
    it had no daily rows between that and the table's cut).

    `previous_sql` is the table as the last run left it (None on a first or full build). It is
    brought forward by adding the daily rows between its cut and the new one (the rows
    returned are then only those of the customers that had such rows), after checking
    that it still matches the daily table (its row count and sums equal those of the daily rows
    before its cut). When it does not, or when the new cut is earlier (an earlier as-of date),
    the table is recomputed from all daily rows, with zeros for customers it no longer has.
    Customers whose rows all lie on or after the cut may have no row (they count as zeros).
    Returns a DuckDB relation; `log(message)` hears which way it went.
    """
    say = log or (lambda message: None)
    kinds = measure_kinds(con, daily_sql, spec)
    widest = max(spec.windows, default=0)
    # the cut: the widest window before the latest snapshot that is not the as-of date (the
    # as-of date if it is the only one), i.e. the new calendar snapshot of an incremental run:
    # this run's window model can use the table when all its pairs are that late, and the next
    # run's (one week later) always can, also after a full build
    latest = con.sql(
        f"with s as (select distinct snapshot_date from ({pairs_sql})) "
        "select coalesce(max(snapshot_date) filter (where snapshot_date < "
        "(select max(snapshot_date) from s)), max(snapshot_date)) from s"
    ).fetchall()[0][0]
    cut: int | None = None if latest is None else (latest - EPOCH).days - widest
    units = {m: kinds[m].sql(m) for m in spec.lifetime}

    def aggregates(only: str | None = None) -> str:
        """The collapsed columns over a group's rows, or only over those where `only` holds (a
        FILTER clause on every aggregate: twice the time of none, so the weekly delta, which
        may leave out customers, filters in WHERE instead)."""
        where = "" if only is None else f" filter (where {only})"
        also = "" if only is None else f"{only} and "
        cols = [f"count(*){where}::bigint as daily_rows"]
        cols += [f'coalesce(sum({u}){where}, 0)::bigint as "{m}_units"' for m, u in units.items()]
        cols += [
            f'max(activity_date) filter (where {also}{kinds[m].sql(m)} > 0) as "last_{name}_date"'
            for name, m in spec.last_seen.items()
        ]
        return ", ".join(cols)

    unit_cols = ["daily_rows"] + [f"{m}_units" for m in spec.lifetime]
    last_cols = [f"last_{name}_date" for name in spec.last_seen]

    def merged(a: str, b: str, cut_day: int) -> str:
        """Rows of a and b (same columns) added up per customer; b's last days are later."""
        cols = ["coalesce(a.customer_id, b.customer_id) as customer_id"]
        cols.append(f"{_date(cut_day)} as collapsed_before")
        cols += [
            f'(coalesce(a."{c}", 0) + coalesce(b."{c}", 0))::bigint as "{c}"' for c in unit_cols
        ]
        cols += [f'coalesce(b."{c}", a."{c}") as "{c}"' for c in last_cols]
        return (
            f"select {', '.join(cols)} from ({a}) a full join ({b}) b "
            "on a.customer_id = b.customer_id"
        )

    def from_scratch(cut_day: int) -> str:
        # every customer of the daily table gets a row (zeros where nothing is collapsed): the
        # model replaces rows by customer_id, and an empty table would lose the cut
        rows = (
            f"select customer_id, {aggregates(f'activity_date < {_date(cut_day)}')} "
            f"from ({daily_sql}) group by customer_id"
        )
        if previous_sql is None:
            return (
                f"select customer_id, {_date(cut_day)} as collapsed_before, * exclude "
                f"(customer_id) from ({rows})"
            )
        # customers of the previous table that the daily table no longer has: zeros
        zeros = [f'0 as "{c}"' for c in unit_cols] + [f'null::date as "{c}"' for c in last_cols]
        gone = (
            f"select customer_id, {', '.join(zeros)} from ({previous_sql}) "
            f"where customer_id not in (select customer_id from ({daily_sql}))"
        )
        return merged(gone, rows, cut_day)

    if previous_sql is None:
        say(f"computed from scratch: rows before {_day_str(cut)}")
        return con.sql(from_scratch(cut if cut is not None else _MIN_DAY))
    stats = ", ".join(["max(collapsed_before)"] + [f'sum("{c}")' for c in unit_cols])
    prev = con.sql(f"select {stats} from ({previous_sql})").fetchall()[0]
    if prev[0] is None:  # the previous table is empty: the daily table was empty
        say("computed from scratch: the previous table is empty")
        return con.sql(from_scratch(cut if cut is not None else _MIN_DAY))
    prev_cut = (prev[0] - EPOCH).days
    if cut is None:  # no pairs this run: keep the cut
        cut = prev_cut
    if cut < prev_cut:
        say(f"computed from scratch: the cut moved back from {_day_str(prev_cut)}")
        return con.sql(from_scratch(cut))
    sums = ", ".join(["count(*)"] + [f"sum({u})" for u in units.values()])
    now = con.sql(
        f"select {sums} from ({daily_sql}) where activity_date < {_date(prev_cut)}"
    ).fetchall()[0]
    if [int(x or 0) for x in now] != [int(x or 0) for x in prev[1:]]:
        say(
            "computed from scratch: the daily rows before "
            f"{_day_str(prev_cut)} changed since the last build"
        )
        return con.sql(from_scratch(cut))
    window = f"activity_date >= {_date(prev_cut)} and activity_date < {_date(cut)}"
    delta = (
        f"select customer_id, {aggregates()} from ({daily_sql}) "
        f"where {window} group by customer_id"
    )
    # only the customers with rows in between change (the model replaces rows by customer_id);
    # the others keep their older collapsed_before, which is still exact: they have no rows
    # between it and the new cut
    con.execute(f"create or replace temp table cw_collapsed_delta as {delta}")
    previous = (
        f"select * exclude (collapsed_before) from ({previous_sql}) "
        "where customer_id in (select customer_id from cw_collapsed_delta)"
    )
    say(f"brought forward from {_day_str(prev_cut)} to {_day_str(cut)}")
    return con.sql(merged(previous, "select * from cw_collapsed_delta", cut))


_MIN_DAY = -719162  # 0001-01-01: nothing is collapsed


def _day_str(day: int | None) -> str:
    if day is None:
        return "(no snapshot)"
    return str(np.datetime64(int(day), "D"))


def window_batches(
    con,
    daily_sql: str,
    pairs_sql: str,
    spec: WindowSpec,
    chunk_customers: int = 20_000,
    collapsed_sql: str | None = None,
    workers: int = 2,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The window sums of every pair in `pairs_sql` (customer_id, snapshot_date) from the daily
    table `daily_sql` (customer_id, activity_date, measures), chunk by chunk of customers.

    Both relations are read with a customer_id range filter per chunk, so a daily table stored
    in customer order is read once in all (zone maps skip the other row groups). With
    `collapsed_sql` (rows of `collapsed_history`), a chunk reads its customers' collapsed rows
    and only the daily rows from the cut on; without it, every daily row (the results are the
    same). `workers` threads compute the next chunks ahead (`_in_order`); 0 computes each chunk
    when it is asked for.
    """
    kernel.warm_up()  # usually started already, by int_customer_collapsed_history
    kinds = measure_kinds(con, daily_sql, spec)
    measures = spec.measures()
    schema = output_schema(spec, kinds)
    ids = _read(con, f"select distinct customer_id from ({pairs_sql}) order by customer_id")
    ids = ids["customer_id"].combine_chunks()
    wide = ", ".join(f'{kinds[m].sql(m)} as "{m}"' for m in measures)
    width = narrow_types(con, daily_sql, {m: kinds[m] for m in measures})
    narrowed = [m for m in measures if width[m] != "bigint"]
    narrow = ", ".join(
        f'try_cast({kinds[m].sql(m)} as {width[m]}) as "{m}"'
        if m in narrowed
        else f'{kinds[m].sql(m)} as "{m}"'
        for m in measures
    )
    before_day: int | None = None
    if collapsed_sql is not None:
        cut, first = con.sql(
            f"select (select (max(collapsed_before) - date '1970-01-01')::integer "
            f"from ({collapsed_sql})), (select (min(snapshot_date) - date '1970-01-01')::integer "
            f"from ({pairs_sql}))"
        ).fetchall()[0]
        widest = max(spec.windows, default=0)
        # usable when no window of any pair reaches before the cut (a full build's early
        # snapshots do: it reads every row, as it would anyway)
        if cut is not None and first is not None and cut <= first - widest:
            before_day = int(cut)
    older_select = ", ".join(
        [f'"{m}_units" as "{m}"' for m in spec.lifetime]
        + [
            f"(last_{name}_date - date '1970-01-01')::integer as \"last_{name}\""
            for name in spec.last_seen
        ]
    )

    def read_daily(cur, select: str, where: str) -> pa.Table:
        return _read(
            cur,
            f"select customer_id, (activity_date - date '1970-01-01')::integer as day, "
            f"{select} from ({daily_sql}) {where}",
        )

    def one_chunk(cur, lo: int) -> pa.RecordBatch:
        # each read takes the chunk's customer_id range as stored; the ids are mapped to their
        # index 0..n-1 in the chunk in Arrow (a DuckDB join with a registered table of the
        # chunk's ids cost ~30 ms a query at 1 M customers, more than the small reads)
        chunk = ids.slice(lo, chunk_customers)
        first = chunk[0].as_py().replace("'", "''")
        last = chunk[len(chunk) - 1].as_py().replace("'", "''")
        where = f"where customer_id between '{first}' and '{last}'"
        pairs = _read(cur, f"select customer_id, snapshot_date from ({pairs_sql}) {where}")
        pair_idx = _chunk_index(pairs["customer_id"], chunk)
        if (pair_idx < 0).any():  # the chunk holds every distinct id in its range
            raise RuntimeError("a pair's customer is missing from its chunk")
        pairs = pairs.add_column(0, "idx", pa.array(pair_idx))
        older = None
        daily_where = where
        if before_day is not None:
            older = _with_chunk_index(
                _read(cur, f"select customer_id, {older_select} from ({collapsed_sql}) {where}"),
                chunk,
            )
            # customers in the range without pairs this run are not in the chunk
            older = older.filter(pc.greater_equal(older["idx"], 0))
            daily_where += f" and activity_date >= {_date(before_day)}"
        # the daily rows as stored (no join, no sort in DuckDB: both cost more than mapping
        # the ids through a dictionary and sorting the int64 keys in numpy)
        rows = read_daily(cur, narrow, daily_where)
        if any(rows[m].null_count for m in narrowed):
            rows = read_daily(cur, wide, daily_where)  # beyond the statistics' bounds, or NULL
        daily = _with_chunk_index(rows, chunk)
        return window_batch(daily, pairs, len(chunk), spec, kinds, older, before_day)

    starts = range(0, len(ids), chunk_customers)
    return schema, _in_order(con, one_chunk, starts, workers)


_T = TypeVar("_T")
_A = TypeVar("_A")


def _in_order(
    con, work: Callable[[object, _A], _T], tasks: Iterable[_A], workers: int
) -> Iterator[_T]:
    """`work(cursor, task)` for each task, in order. With workers > 0, that many threads run
    the next tasks ahead, each on its own cursor of `con` (DuckDB reads and numpy release the
    GIL): one chunk's read overlaps another's numpy work and dbt's insert of the previous
    batch. At most `workers` results wait beyond the one being consumed. Errors reach the
    consumer as raised; closing the iterator cancels what has not started and waits for the
    rest. With workers = 0, everything runs in the caller's thread on `con`."""
    if workers <= 0:
        for task in tasks:
            yield work(con, task)
        return
    local = threading.local()
    cursors: list = []
    lock = threading.Lock()

    def run(task: _A) -> _T:
        cursor = getattr(local, "cursor", None)
        if cursor is None:
            cursor = local.cursor = con.cursor()
            with lock:
                cursors.append(cursor)
        return work(cursor, task)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="churnwatch-windows")
    pending: deque[Future[_T]] = deque()
    try:
        rest = iter(tasks)
        for task in itertools.islice(rest, workers):
            pending.append(pool.submit(run, task))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(run, task) for task in itertools.islice(rest, 1))
            yield result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        for cursor in cursors:
            cursor.close()
