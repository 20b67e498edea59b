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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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
    """

    customers: int = 20_000
    days: int = 540
    seed: int = 42
    out: Path = Path("data/sample")
    fmt: str = "parquet"
    defect_rate: float = 0.005
    end_date: dt.date = dt.date(2026, 6, 30)


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

    def write(self, table: pa.Table, extra_lines: list[bytes], rng: np.random.Generator) -> None:
        table = table.cast(self.schema)
        self.rows += table.num_rows + len(extra_lines)
        if self.fmt == "parquet":
            if table.num_rows:
                self._pq.write_table(table)
            return
        buf = io.BytesIO()
        pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False))
        self._fh.write(defects.insert_lines(buf.getvalue(), extra_lines, rng))

    def close(self) -> None:
        if self.fmt == "parquet":
            self._pq.close()
        else:
            self._fh.close()


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
    catalog = simulate.make_catalog(config.seed)
    writers: dict[str, _EntityWriter] = {}
    truth_writers: dict[str, pq.ParquetWriter] = {}
    stats = {name: defects.DefectStats() for name in ENTITY_ORDER}
    n_chunks = -(-config.customers // CHUNK_SIZE)
    n_orders = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.customers, unit="customer", desc="sample shop", disable=None)
    try:
        for chunk in range(n_chunks):
            first = chunk * CHUNK_SIZE
            n = min(CHUNK_SIZE, config.customers - first)
            res = simulate.simulate_chunk(
                config.seed, chunk, first, n, n_orders, period, catalog, model.DEFAULT_PARAMS
            )
            n_orders += res.n_orders
            if not writers:
                for name in ENTITY_ORDER:
                    path = out / f"{name}.{config.fmt}"
                    writers[name] = _EntityWriter(path, config.fmt, _schema(res.tables[name]))
                for tname, t in (("customers", res.customers_truth), ("orders", res.orders_truth)):
                    truth_writers[tname] = pq.ParquetWriter(
                        truth_dir / f"{tname}_truth.parquet", _schema(t), compression="snappy"
                    )
            tables, chunk_stats = defects.inject(
                res.tables,
                config.defect_rate,
                lambda name, c=chunk: simulate.rng_for(
                    config.seed, c, DEFECTS * 100 + ENTITY_STREAM[name]
                ),
            )
            for name in ENTITY_ORDER:
                stats[name].add(chunk_stats[name])
                mrng = simulate.rng_for(config.seed, chunk, MALFORMED * 100 + ENTITY_STREAM[name])
                extra: list[bytes] = []
                if config.fmt == "csv":
                    extra = defects.malformed_lines(tables[name], config.defect_rate, mrng)
                    stats[name].rejected["malformed_csv_line"] += len(extra)
                writers[name].write(tables[name], extra, mrng)
            truth_writers["customers"].write_table(res.customers_truth.cast(
                truth_writers["customers"].schema))
            truth_writers["orders"].write_table(res.orders_truth.cast(truth_writers["orders"].schema))
            if bar is not None:
                bar.update(n)
    finally:
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
        "chunk_size": CHUNK_SIZE,
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
