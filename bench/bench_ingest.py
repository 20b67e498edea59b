"""Benchmark: ingest + staging against the floor of a bare read of the same files.

The floor is `create table t as select * from read_csv|read_parquet(file)` for every entity
file, one after the other in one DuckDB connection, until the file is closed (checkpointed).
Ours is `churnwatch.ingest` (shape checks, a scan of each CSV for malformed lines, raw views)
plus the dbt staging models (typing, cleaning, rejects, de-duplication, audit). dbt's own
start-up (~5 s per invocation, independent of data size) is reported apart from the model time
taken from dbt's run_results.json: `elapsed_time`, the wall time of the run's execution phase
(every model, schema set-up and cache included). dbt runs two models at once, so the sum of the
models' own times counts overlapping time twice; that sum is printed too.

    python bench/bench_ingest.py --data-dir data/sample            # an existing shop
    python bench/bench_ingest.py --synthetic-orders 2000000        # a generated orders+events set
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churnwatch.config import DBT_PROJECT_DIR
from churnwatch.contract import ENTITIES
from churnwatch.dbt_runner import run_dbt
from churnwatch.ingest import find_entity_file, ingest


def synthesize(out: Path, n_orders: int, fmt: str, seed: int = 0) -> None:
    """Write orders and events (5 per order) with ~0.5% defects, as Parquet or CSV."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_cust = max(1, n_orders // 5)
    start = np.datetime64("2024-01-01T00:00:00")
    secs = rng.integers(0, 540 * 86400, n_orders)
    ordered = (start + secs.astype("timedelta64[s]")).astype(str)
    amount = np.round(rng.gamma(2.0, 30.0, n_orders), 2).astype(str)
    bad = rng.random(n_orders) < 0.005
    amount[bad] = "-1.00"
    orders = pa.table(
        {
            "order_id": [f"O{i}" for i in range(n_orders)],
            "customer_id": [f"C{c}" for c in rng.integers(0, n_cust, n_orders)],
            "ordered_at": ordered,
            "amount": amount,
            "status": rng.choice(
                ["completed", "cancelled", "returned"], n_orders, p=[0.9, 0.06, 0.04]
            ),
        }
    )
    n_ev = n_orders * 5
    ev_secs = rng.integers(0, 540 * 86400, n_ev)
    events = pa.table(
        {
            "customer_id": [f"C{c}" for c in rng.integers(0, n_cust, n_ev)],
            "occurred_at": (start + ev_secs.astype("timedelta64[s]")).astype(str),
            "event_type": rng.choice(["page_view", "search", "product_view", "add_to_cart"], n_ev),
            "session_id": [f"S{s}" for s in rng.integers(0, n_ev // 4, n_ev)],
            "duration_seconds": np.round(rng.exponential(30.0, n_ev), 1).astype(str),
        }
    )
    for name, table in (("orders", orders), ("events", events)):
        if fmt == "parquet":
            pq.write_table(table, out / f"{name}.parquet")
        else:
            pacsv.write_csv(table, out / f"{name}.csv")


def bare_read(data_dir: Path) -> tuple[float, int]:
    work = Path(tempfile.mkdtemp())
    con = duckdb.connect(str(work / "bare.duckdb"))
    rows = 0
    started = time.perf_counter()
    for entity in ENTITIES:
        path = find_entity_file(data_dir, entity)
        if path is None:
            continue
        reader = "read_parquet" if path.name.endswith(".parquet") else "read_csv"
        con.execute(f"create table {entity.name} as select * from {reader}('{path}')")
        rows += con.execute(f"select count(*) from {entity.name}").fetchall()[0][0]
    con.close()  # the checkpoint that writes the tables to the file is part of the cost
    elapsed = time.perf_counter() - started
    shutil.rmtree(work)
    return elapsed, rows


def ours(data_dir: Path) -> dict[str, float]:
    work = Path(tempfile.mkdtemp())
    db = work / "ours.duckdb"
    t0 = time.perf_counter()
    ingest(db, data_dir)
    t1 = time.perf_counter()
    run_dbt("run", db, select="staging", quiet=True)
    t2 = time.perf_counter()
    results = json.loads((DBT_PROJECT_DIR / "target" / "run_results.json").read_text())
    summed = sum(r["execution_time"] for r in results["results"])
    shutil.rmtree(work)
    return {
        "ingest": t1 - t0,
        "dbt_wall": t2 - t1,
        "dbt_sql": results["elapsed_time"],
        "dbt_sum": summed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, help="An existing data directory to ingest.")
    parser.add_argument(
        "--synthetic-orders",
        type=int,
        default=1_000_000,
        help="Orders to generate when no --data-dir (events = 5x).",
    )
    parser.add_argument(
        "--format",
        choices=["parquet", "csv"],
        default="csv",
        help="File format of the generated data.",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Run floor and ours alternately this many times; the least time of each is kept "
        "(on a shared machine the least is the one the other workers disturbed least).",
    )
    args = parser.parse_args()
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp()) / "synthetic"
        print(f"generating {args.synthetic_orders:,} orders + events ({args.format}) ...")
        synthesize(data_dir, args.synthetic_orders, args.format)
    floors, runs = [], []
    for _ in range(max(1, args.repeat)):
        floor, rows = bare_read(data_dir)
        floors.append(floor)
        runs.append(ours(data_dir))
    floor = min(floors)
    res = {key: min(r[key] for r in runs) for key in runs[0]}
    cleanings = [r["ingest"] + r["dbt_sql"] for r in runs]
    cleaning = min(cleanings)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\ndata: {data_dir} ({rows:,} rows); load average after the run: {load}\n")
    if len(runs) > 1:
        print(
            f"{len(runs)} runs, least time of each kept; floor: "
            + ", ".join(f"{f:.2f}" for f in floors)
            + "; ingest + staging: "
            + ", ".join(f"{c:.2f}" for c in cleanings)
            + "\n"
        )
    print("| step | seconds | x bare read |")
    print("|---|---|---|")
    print(f"| bare read_csv/read_parquet into tables (floor) | {floor:.2f} | 1.00 |")
    print(
        f"| churnwatch ingest (shape checks + rejects scan + raw views) | {res['ingest']:.2f} "
        f"| {res['ingest'] / floor:.2f} |"
    )
    print(
        f"| dbt staging run, elapsed (run_results) | {res['dbt_sql']:.2f} "
        f"| {res['dbt_sql'] / floor:.2f} |"
    )
    print(
        f"| **ingest + staging (cleaning cost)** | **{cleaning:.2f}** "
        f"| **{cleaning / floor:.2f}** |"
    )
    print(
        f"| dbt wall time incl. start-up | {res['dbt_wall']:.2f} | {res['dbt_wall'] / floor:.2f} |"
    )
    print(
        f"| (sum of the models' own times, overlapping) | {res['dbt_sum']:.2f} "
        f"| {res['dbt_sum'] / floor:.2f} |"
    )


if __name__ == "__main__":
    main()
