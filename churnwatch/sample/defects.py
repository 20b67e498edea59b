"""Data-quality defects injected into the sample shop, each counted for the manifest.

Every row of an entity is picked for a defect with probability ``rate``; a picked row gets exactly
one defect kind, drawn uniformly from the entity's kinds in `DEFECT_KINDS`. The kinds are chosen
so that the cleaning rules of docs/interfaces.md reject each corrupted row for exactly one,
known reason (the first reason that applies is the only one that applies):

* ``missing_<col>``: the key column is null.
* ``unparseable_<col>``: the main timestamp is text that is no timestamp (``not-a-date``,
  ``2025-13-45T25:61:00Z``...).
* ``future_<col>``: the main timestamp is moved to the year 2099 (same month, day and time).
* ``negative_<col>``: the money or quantity value is negated (values are > 0 before).
* ``out_of_range_<col>``: rating or satisfaction set to 0, 6, 7 or 9.
* ``unknown_<col>``: a status / event type outside the contract (``shipped``, ``scroll``...).
* ``orphan_order_item``: the item's order id is replaced by one that no order has.
* ``casing_<col>``: NOT a rejection: the value gets odd casing and padding (``" COMPLETED "``);
  cleaning normalises it and the row is loaded.
* ``duplicate``: an exact copy of the (untouched) row is inserted a few rows after it.

Orders and their items interact: every item of a rejected order is itself rejected as
``orphan_order_item`` (unless the item has its own defect, which then wins). Items are only
duplicated when neither the item nor its order is rejected, so the expected counts are exact.
Malformed CSV lines are added by the writer (CSV only), see `malformed_lines`.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DEFECT_KINDS: dict[str, tuple[str, ...]] = {
    "orders": (
        "missing_order_id",
        "missing_customer_id",
        "unparseable_ordered_at",
        "negative_amount",
        "future_ordered_at",
        "unknown_status",
        "casing_status",
        "duplicate",
    ),
    "order_items": (
        "missing_order_id",
        "negative_quantity",
        "negative_unit_price",
        "orphan_order_item",
        "duplicate",
    ),
    "customers": (
        "missing_customer_id",
        "unparseable_signup_at",
        "future_signup_at",
        "duplicate",
    ),
    "events": (
        "missing_customer_id",
        "unparseable_occurred_at",
        "future_occurred_at",
        "unknown_event_type",
        "casing_event_type",
        "duplicate",
    ),
    "reviews": (
        "missing_customer_id",
        "unparseable_created_at",
        "future_created_at",
        "out_of_range_rating",
        "duplicate",
    ),
    "support_tickets": (
        "missing_customer_id",
        "unparseable_created_at",
        "future_created_at",
        "out_of_range_satisfaction",
        "duplicate",
    ),
    "email_events": (
        "missing_customer_id",
        "unparseable_occurred_at",
        "future_occurred_at",
        "unknown_event_type",
        "casing_event_type",
        "duplicate",
    ),
}
UNPARSEABLE = ["not-a-date", "2025-13-45T25:61:00Z", "31/02/2025 10:00", "yesterday", "2025-00-00"]
UNKNOWN = {
    "status": ["shipped", "pending", "lost", "refunded?"],
    "event_type": ["scroll", "pageview", "bounce", "unknown"],
}
OUT_OF_RANGE = [0, 6, 7, 9]
FUTURE_YEAR = 2099


@dataclass
class DefectStats:
    """What was injected into one entity (summed over chunks).

    Attributes:
        rejected: Expected rejections by reason name (``missing_order_id``...).
        duplicates: Exact copies added (expected ``rows_duplicate``).
        not_rejected: Injected defects that cleaning repairs (``casing_status``...).
    """

    rejected: Counter = field(default_factory=Counter)
    duplicates: int = 0
    not_rejected: Counter = field(default_factory=Counter)

    def add(self, other: DefectStats) -> None:
        """Adds another chunk's counts."""
        self.rejected.update(other.rejected)
        self.duplicates += other.duplicates
        self.not_rejected.update(other.not_rejected)


def _replace(table: pa.Table, col: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
    """Sets `table[col][rows] = values` (rows sorted, values aligned)."""
    i = table.schema.get_field_index(col)
    arr = table.column(col).combine_chunks()
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    new = pc.replace_with_mask(arr, pa.array(mask), values.cast(arr.type))
    return table.set_column(i, col, new)


def _mutate(table: pa.Table, kind: str, rows: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Applies one defect kind to the given rows."""
    if rows.size == 0:
        return table
    if kind.startswith("missing_"):
        col = kind[len("missing_") :]
        return _replace(table, col, rows, pa.nulls(rows.size, table.schema.field(col).type))
    if kind.startswith("unparseable_"):
        col = kind[len("unparseable_") :]
        vals = [UNPARSEABLE[i] for i in rng.integers(0, len(UNPARSEABLE), rows.size)]
        return _replace(table, col, rows, pa.array(vals))
    if kind.startswith("future_"):
        col = kind[len("future_") :]
        old = table.column(col).take(pa.array(rows)).to_pylist()
        vals = [f"{FUTURE_YEAR}{v[4:]}".replace("-02-29", "-02-28") for v in old]
        return _replace(table, col, rows, pa.array(vals))
    if kind.startswith("negative_"):
        col = kind[len("negative_") :]
        old = table.column(col).take(pa.array(rows))
        return _replace(table, col, rows, pc.negate(old))
    if kind.startswith("out_of_range_"):
        col = kind[len("out_of_range_") :]
        vals = np.array(OUT_OF_RANGE)[rng.integers(0, len(OUT_OF_RANGE), rows.size)]
        return _replace(table, col, rows, pa.array(vals))
    if kind.startswith("unknown_"):
        col = kind[len("unknown_") :]
        pool = UNKNOWN[col]
        return _replace(
            table, col, rows, pa.array([pool[i] for i in rng.integers(0, len(pool), rows.size)])
        )
    if kind.startswith("casing_"):
        col = kind[len("casing_") :]
        old = table.column(col).take(pa.array(rows)).to_pylist()
        styles = rng.integers(0, 4, rows.size)
        vals = [
            (v.upper() + " ", " " + v.title(), v.upper(), " " + v.capitalize() + " ")[s]
            for v, s in zip(old, styles, strict=True)
        ]
        return _replace(table, col, rows, pa.array(vals))
    if kind == "orphan_order_item":
        old = table.column("order_id").take(pa.array(rows)).to_pylist()
        return _replace(table, "order_id", rows, pa.array([f"X{v[1:]}" for v in old]))
    raise ValueError(f"unknown defect kind {kind!r}")


def _pick(
    n: int, kinds: tuple[str, ...], rate: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Rows picked for each kind (disjoint, sorted)."""
    picked = np.flatnonzero(rng.random(n) < rate)
    kind = rng.integers(0, len(kinds), picked.size)
    return {k: picked[kind == i] for i, k in enumerate(kinds)}


DUP_SEGMENT_ROWS = 2_000


def _with_duplicates(table: pa.Table, rows: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Inserts an exact copy of each row in `rows` after its original.

    The table is cut into segments of `DUP_SEGMENT_ROWS` rows; the copies of a segment's rows
    follow that segment (in random order), so a copy is at most a few thousand rows after its
    original. Zero-copy slices: no full-table `take`.
    """
    if rows.size == 0:
        return table
    rows = rows[rng.permutation(rows.size)]
    seg = rows // DUP_SEGMENT_ROWS
    rows = rows[np.argsort(seg, kind="stable")]
    seg = np.sort(seg)
    copies = table.take(pa.array(rows))
    pieces: list[pa.Table] = []
    start = 0
    for s in np.unique(seg):
        lo, hi = np.searchsorted(seg, [s, s + 1])
        end = int(min((s + 1) * DUP_SEGMENT_ROWS, table.num_rows))
        pieces.append(table.slice(start, end - start))
        pieces.append(copies.slice(int(lo), int(hi - lo)))
        start = end
    pieces.append(table.slice(start))
    return pa.concat_tables(pieces)


def inject(
    tables: dict[str, pa.Table], rate: float, rng_for_entity
) -> tuple[dict[str, pa.Table], dict[str, DefectStats]]:
    """Injects defects into one chunk's clean tables.

    Args:
        tables: Entity name -> clean table of the chunk.
        rate: Probability that a row gets a defect.
        rng_for_entity: Callable ``name -> np.random.Generator`` (one stream per entity).

    Returns:
        The corrupted tables and the per-entity counts.
    """
    out: dict[str, pa.Table] = {}
    stats: dict[str, DefectStats] = {}
    rejected_orders: pa.Array = pa.array([], pa.string())
    for name in (
        "orders",
        "order_items",
        *[e for e in tables if e not in ("orders", "order_items")],
    ):
        table = tables[name]
        rng = rng_for_entity(name)
        st = DefectStats()
        if rate <= 0 or table.num_rows == 0:
            out[name], stats[name] = table, st
            continue
        kinds = DEFECT_KINDS[name]
        picks = _pick(table.num_rows, kinds, rate, rng)
        dup_rows = picks.pop("duplicate")
        if name == "order_items":
            order_rejected = pc.is_in(table.column("order_id"), value_set=rejected_orders)
            order_rejected = order_rejected.to_numpy(zero_copy_only=False)
            own = np.zeros(table.num_rows, dtype=bool)
            for rows in picks.values():
                own[rows] = True
            st.rejected["orphan_order_item"] += int((order_rejected & ~own).sum())
            dup_rows = dup_rows[~order_rejected[dup_rows]]
        if name == "orders":
            bad = np.sort(
                np.concatenate([r for k, r in picks.items() if not k.startswith("casing_")])
            )
            rejected_orders = table.column("order_id").take(pa.array(bad)).combine_chunks()
            rejected_orders = pc.drop_null(rejected_orders)
            # Orders that lose their id cannot be found by their items either.
        for k, rows in picks.items():
            table = _mutate(table, k, rows, rng)
            if k.startswith("casing_"):
                st.not_rejected[k] += int(rows.size)
            else:
                st.rejected[k] += int(rows.size)
        table = _with_duplicates(table, dup_rows, rng)
        st.duplicates += int(dup_rows.size)
        out[name], stats[name] = table, st
    return out, stats


def malformed_lines(table: pa.Table, rate: float, rng: np.random.Generator) -> list[bytes]:
    """CSV lines with one field too many, copies of random rows (CSV format only).

    Args:
        table: The (already corrupted) chunk table.
        rate: Defect rate; about ``rate / 6`` of the rows get a malformed copy.
        rng: Generator for this entity and chunk.

    Returns:
        Lines (each ending in a newline) to insert into the CSV text.
    """
    k = int(rng.binomial(table.num_rows, rate / 6)) if table.num_rows and rate > 0 else 0
    if k == 0:
        return []
    rows = np.sort(rng.choice(table.num_rows, size=k, replace=False))
    buf = io.BytesIO()
    pcsv.write_csv(table.take(pa.array(rows)), buf, pcsv.WriteOptions(include_header=False))
    lines = buf.getvalue().splitlines()
    return [line + b',"extra field"\n' for line in lines]


def insert_lines(csv_body: bytes, lines: list[bytes], rng: np.random.Generator) -> bytes:
    """Inserts whole lines at random line boundaries of a CSV body (no header)."""
    if not lines:
        return csv_body
    cuts = np.sort(rng.integers(0, max(len(csv_body), 1), len(lines)))
    parts: list[bytes] = []
    prev = 0
    for cut, line in zip(cuts, lines, strict=True):
        nl = csv_body.find(b"\n", int(cut))
        pos = len(csv_body) if nl < 0 else nl + 1
        pos = max(pos, prev)
        parts.append(csv_body[prev:pos])
        parts.append(line)
        prev = pos
    parts.append(csv_body[prev:])
    return b"".join(parts)
