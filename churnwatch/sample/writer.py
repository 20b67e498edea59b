"""Writes the sample shop: every contract entity, the ground truth and the manifest.

Output layout of ``DIR``::

    DIR/<entity>.parquet | DIR/<entity>.csv     one file per entity of churnwatch/contract.py
    DIR/_manifest.json                          rows written and expected cleaning counts
    DIR/_truth/customers_truth.parquet          latent traits, onset and churn day per customer
    DIR/_truth/orders_truth.parquet             every order before defects, with its experience
    DIR/_truth/meta.json                        period, seed and model parameters

Column types. CSV: every value is text (timestamps ISO-8601 UTC ``YYYY-MM-DDTHH:MM:SSZ``, money
with 2 decimals). Parquet: timestamps are always written as the same ISO-8601 *strings* (so an
unparseable timestamp can exist in the file, and the schema does not depend on the defect rate);
money is ``decimal(18,2)``, integers ``int32``, ``duration_seconds`` ``double``, the rest strings.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from churnwatch.contract import ENTITIES
from churnwatch.sample import defects, model, simulate
from churnwatch.sample.simulate import CHUNK_SIZE, DEFECTS, MALFORMED, Period

MANIFEST_VERSION = 1
ENTITY_ORDER = [e.name for e in ENTITIES]
ENTITY_STREAM = {name: i for i, name in enumerate(ENTITY_ORDER)}


@dataclass(frozen=True)
class SampleConfig:
    """Options of `churnwatch sample`.

    Attributes:
        customers: Number of customers.
        days: Length of the period in days.
        seed: Random seed (same seed, same options => same bytes).
        out: Output directory.
        fmt: ``parquet`` or ``csv``.
        defect_rate: Probability that a row gets a defect.
        end_date: Last day of the period (inclusive).
        workers: Processes that simulate chunks in parallel (the output does not depend on it).
        chunk_size: Customers per chunk. Part of the output's identity (the RNG is per chunk):
            keep the default unless testing.
    """

    customers: int = 20_000
    days: int = 540
    seed: int = 42
    out: Path = Path("data/sample")
    fmt: str = "parquet"
    defect_rate: float = 0.005
    end_date: dt.date = dt.date(2026, 6, 30)
    workers: int = 1
    chunk_size: int = CHUNK_SIZE


class _EntityWriter:
    """Appends chunk tables to one entity file (Parquet row group or CSV block per chunk)."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self.rows = 0
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(path, schema, compression="snappy")
        else:
            self._fh = open(path, "wb")  # noqa: SIM115  (closed in close())
            buf = io.BytesIO()
            pcsv.write_csv(schema.empty_table(), buf)
            self._fh.write(buf.getvalue())

    def write(self, table: pa.Table | None, csv_body: bytes | None, rows: int) -> None:
        """Appends a chunk: the table (Parquet) or its rendered CSV body (with extra lines)."""
        self.rows += rows
        if self.fmt == "parquet":
            assert table is not None
            if table.num_rows:
                self._pq.write_table(table.cast(self.schema))
            return
        assert csv_body is not None
        self._fh.write(csv_body)

    def close(self) -> None:
        if self.fmt == "parquet":
            self._pq.close()
        else:
            self._fh.close()


@dataclass
class ChunkOutput:
    """One chunk, ready to append: corrupted tables (or rendered CSV), counts and truth."""

    n_customers: int
    rows: dict[str, int]
    tables: dict[str, pa.Table]
    schemas: dict[str, pa.Schema]
    csv: dict[str, bytes | None]
    stats: dict[str, defects.DefectStats]
    customers_truth: pa.Table
    orders_truth: pa.Table


def build_chunk(config: SampleConfig, chunk: int) -> ChunkOutput:
    """Simulates one chunk and injects its defects (runs in a worker process when parallel).

    Everything random comes from ``SeedSequence([seed, chunk, stream])``, so the result does not
    depend on the number of workers.
    """
    period = Period(config.end_date, config.days)
    catalog = simulate.make_catalog(config.seed)
    first = chunk * config.chunk_size
    n = min(config.chunk_size, config.customers - first)
    res = simulate.simulate_chunk(
        config.seed, chunk, first, n, period, catalog, model.DEFAULT_PARAMS
    )
    schemas = {name: _schema(t) for name, t in res.tables.items()}
    tables, chunk_stats = defects.inject(
        res.tables,
        config.defect_rate,
        lambda name: simulate.rng_for(config.seed, chunk, DEFECTS * 100 + ENTITY_STREAM[name]),
    )
    csv: dict[str, bytes | None] = {}
    n_mal: dict[str, int] = {}
    rows: dict[str, int] = {}
    for name in ENTITY_ORDER:
        # combine_chunks: the duplicates are spliced in as zero-copy slices, and pickling a
        # slice to the main process would send its whole parent buffer, once per slice.
        table = tables[name].cast(schemas[name]).combine_chunks()
        tables[name] = table
        csv[name], n_mal[name] = None, 0
        if config.fmt == "csv":
            mrng = simulate.rng_for(config.seed, chunk, MALFORMED * 100 + ENTITY_STREAM[name])
            extra = defects.malformed_lines(table, config.defect_rate, mrng)
            chunk_stats[name].rejected["malformed_csv_line"] += len(extra)
            buf = io.BytesIO()
            pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False))
            csv[name] = defects.insert_lines(buf.getvalue(), extra, mrng)
            n_mal[name] = len(extra)
        rows[name] = table.num_rows + n_mal[name]
    if config.fmt == "csv":
        tables = {}  # rendered already: do not ship the tables back to the main process
    return ChunkOutput(
        n, rows, tables, schemas, csv, chunk_stats, res.customers_truth, res.orders_truth
    )


def _ordered(pool, pending: deque, config: SampleConfig, n_chunks: int, window: int):
    """Yields chunk outputs in chunk order with at most `window` chunks in flight."""
    next_chunk = 0
    while next_chunk < n_chunks or pending:
        while next_chunk < n_chunks and len(pending) < window:
            pending.append(pool.submit(build_chunk, config, next_chunk))
            next_chunk += 1
        yield pending.popleft().result()


def _schema(table: pa.Table) -> pa.Schema:
    """Output schema of an entity, taken from a clean chunk (strips pandas metadata)."""
    return pa.schema([pa.field(f.name, f.type) for f in table.schema])


def generate_sample(config: SampleConfig, progress: bool = True) -> dict[str, Any]:
    """Generates the sample shop into ``config.out``.

    Args:
        config: What to generate.
        progress: Show a tqdm progress bar (customers done).

    Returns:
        The manifest (also written to ``config.out / "_manifest.json"``).
    """
    if config.fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, not {config.fmt!r}")
    if config.customers < 1 or config.days < 30:
        raise ValueError("need at least 1 customer and 30 days")
    out = Path(config.out)
    truth_dir = out / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name in ENTITY_ORDER:  # a previous run in the other format would confuse ingestion
        for suffix in (".parquet", ".csv", ".csv.gz"):
            p = out / f"{name}{suffix}"
            if p.exists():
                p.unlink()
    period = Period(config.end_date, config.days)
    writers: dict[str, _EntityWriter] = {}
    truth_writers: dict[str, pq.ParquetWriter] = {}
    stats = {name: defects.DefectStats() for name in ENTITY_ORDER}
    n_chunks = -(-config.customers // config.chunk_size)
    workers = max(1, min(config.workers, n_chunks))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.customers, unit="customer", desc="sample shop", disable=None)
    pool = None
    try:
        if workers > 1:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            pending: deque = deque()
            results = _ordered(pool, pending, config, n_chunks, window=workers)
        else:
            results = (build_chunk(config, c) for c in range(n_chunks))
        for res in results:
            if not writers:
                for name in ENTITY_ORDER:
                    path = out / f"{name}.{config.fmt}"
                    writers[name] = _EntityWriter(path, config.fmt, res.schemas[name])
                for tname, t in (("customers", res.customers_truth), ("orders", res.orders_truth)):
                    truth_writers[tname] = pq.ParquetWriter(
                        truth_dir / f"{tname}_truth.parquet", _schema(t), compression="snappy"
                    )
            for name in ENTITY_ORDER:
                stats[name].add(res.stats[name])
                writers[name].write(res.tables.get(name), res.csv[name], res.rows[name])
            for tname, t in (("customers", res.customers_truth), ("orders", res.orders_truth)):
                truth_writers[tname].write_table(t.cast(truth_writers[tname].schema))
            if bar is not None:
                bar.update(res.n_customers)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        for w in writers.values():
            w.close()
        for tw in truth_writers.values():
            tw.close()
        if bar is not None:
            bar.close()

    meta = {
        "seed": config.seed,
        "customers": config.customers,
        "days": config.days,
        "start_date": period.start.isoformat(),
        "end_date": period.end.isoformat(),
        "chunk_size": config.chunk_size,
        "model_params": model.DEFAULT_PARAMS.to_dict(),
    }
    (truth_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    manifest = build_manifest(config, period, writers, stats)
    (out / "_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


def build_manifest(
    config: SampleConfig,
    period: Period,
    writers: dict[str, _EntityWriter],
    stats: dict[str, defects.DefectStats],
) -> dict[str, Any]:
    """The manifest: per entity rows written and the exact counts cleaning must find."""
    entities = {}
    for name in ENTITY_ORDER:
        st = stats[name]
        rejected = {k: int(v) for k, v in sorted(st.rejected.items()) if v}
        n_rej = sum(rejected.values())
        entities[name] = {
            "file": os.path.basename(writers[name].path),
            "rows_written": writers[name].rows,
            "rows_rejected": rejected,
            "rows_rejected_total": n_rej,
            "rows_duplicate": st.duplicates,
            "rows_loaded": writers[name].rows - n_rej - st.duplicates,
            "defects_not_rejected": {k: int(v) for k, v in sorted(st.not_rejected.items()) if v},
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": "churnwatch.sample",
        "seed": config.seed,
        "customers": config.customers,
        "days": config.days,
        "start_date": period.start.isoformat(),
        "end_date": period.end.isoformat(),
        "format": config.fmt,
        "defect_rate": config.defect_rate,
        "timestamps": "ISO-8601 UTC strings YYYY-MM-DDTHH:MM:SSZ in both formats",
        "truth_dir": "_truth",
        "entities": entities,
    }
