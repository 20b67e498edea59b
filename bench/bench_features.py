"""Benchmark the feature build: full build time, peak memory, and the incremental build of one
new week as a ratio of the full build.

Either point it at a data directory (`--data-dir`, e.g. the simulator's 1M-customer shop) or let
it synthesize orders + events + customers itself (`--customers N`). It makes a "last week
missing" copy of the data, then times, side by side in one run:
  1. full build of all the data into a fresh database,
  2. the build of the data without its last week into a fresh database (the base),
  3. the incremental build of all the data on top of the base (the new week).
Each build is `churnwatch run --no-train` (ingest + dbt build; training is not part of the
feature build) in a subprocess with DuckDB's memory_limit from CHURNWATCH_MEMORY_LIMIT
(profiles.yml); peak memory is the largest child RSS. Per-model times come from dbt's
run_results.json. At the end the incremental database is compared with the full one
(bench/compare_features.py: they must be identical).

Example:
  python bench/bench_features.py --customers 100000 --weeks 52 --work /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from churnwatch.config import DBT_PROJECT_DIR  # noqa: E402
from churnwatch.contract import ENTITIES  # noqa: E402

MAIN_TIME = {
    "orders": "ordered_at",
    "customers": "signup_at",
    "events": "occurred_at",
    "reviews": "created_at",
    "support_tickets": "created_at",
    "email_events": "occurred_at",
}
FEATURE_MODELS = (
    "int_as_of_date",
    "int_customers_resolved",
    "int_snapshot_calendar",
    "int_customer_category_firsts",
    "int_customer_daily_activity",
    "int_customer_active_spells",
    "int_feature_pairs",
    "int_customer_collapsed_history",
    "int_customer_feature_windows",
    "customer_features",
    "churn_labels",
    "scoring_examples",
)


def synthesize(out: Path, customers: int, weeks: int, seed: int, sessions_per_week: float) -> None:
    """Write customers, orders and events parquet files for a shop of `customers` over `weeks`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    days = weeks * 7
    day_s = 86400
    ids = np.char.add("C", np.arange(customers).astype("U8"))
    signup = rng.integers(-180, days, customers)  # some customers predate the window
    life = rng.exponential(200, customers).astype(int) + 7  # days until they stop buying
    rate = rng.gamma(1.5, 1 / 40, customers)  # orders per day
    end = np.minimum(np.maximum(signup, 0) + life, days)
    span = np.maximum(end - np.maximum(signup, 0), 0)
    n_orders = rng.poisson(rate * span)
    cust = np.repeat(np.arange(customers), n_orders)
    oday = np.maximum(signup, 0)[cust] + (rng.random(len(cust)) * span[cust]).astype(int)
    ots = start + (oday * day_s + rng.integers(0, day_s, len(cust))).astype("timedelta64[s]")
    status = rng.choice(
        np.array(["completed", "cancelled", "returned"]), len(cust), p=[0.9, 0.05, 0.05]
    )
    pq.write_table(
        pa.table(
            {
                "order_id": np.char.add("O", np.arange(len(cust)).astype("U10")),
                "customer_id": ids[cust],
                "ordered_at": ots,
                "amount": np.round(rng.gamma(2, 30, len(cust)), 2),
                "status": status,
                "discount_amount": np.where(rng.random(len(cust)) < 0.2, 5.0, 0.0),
                "promised_delivery_at": ots + np.timedelta64(3 * day_s, "s"),
                "delivered_at": ots
                + (rng.integers(1, 6, len(cust)) * day_s).astype("timedelta64[s]"),
            }
        ),
        out / "orders.parquet",
    )
    n_sessions = rng.poisson(sessions_per_week / 7 * (span + 20))
    scust = np.repeat(np.arange(customers), n_sessions)
    sday = np.minimum(
        np.maximum(signup, 0)[scust] + (rng.random(len(scust)) * (span[scust] + 20)).astype(int),
        days - 1,
    )
    per = rng.integers(1, 7, len(scust))
    ecust = np.repeat(scust, per)
    eday = np.repeat(sday, per)
    ets = start + (eday * day_s + rng.integers(0, day_s, len(ecust))).astype("timedelta64[s]")
    etype = rng.choice(
        np.array(["page_view", "search", "product_view", "add_to_cart", "checkout"]),
        len(ecust),
        p=[0.35, 0.15, 0.35, 0.1, 0.05],
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": ids[ecust],
                "occurred_at": ets,
                "event_type": etype,
                "session_id": np.repeat(
                    np.char.add("S", np.arange(len(scust)).astype("U10")), per
                ),
                "duration_seconds": rng.integers(5, 300, len(ecust)).astype(float),
            }
        ),
        out / "events.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": ids,
                "signup_at": start + (signup * day_s).astype("timedelta64[s]"),
                "country": rng.choice(np.array(["de", "fr", "gb", "us"]), customers),
                "acquisition_channel": rng.choice(
                    np.array(["organic", "social", "email"]), customers
                ),
            }
        ),
        out / "customers.parquet",
    )
    print(f"synthesized {customers} customers, {len(cust)} orders, {len(ecust)} events in {out}")


def drop_last_week(data_dir: Path, out: Path) -> str:
    """Copy data_dir without its last 7 days (by each entity's main timestamp); returns the cut."""
    import duckdb

    con = duckdb.connect()
    files = {p.name.split(".")[0]: p for p in data_dir.iterdir() if p.is_file()}

    def reader(p: Path) -> str:
        if p.suffix == ".parquet":
            return f"read_parquet('{p}')"
        return f"read_csv('{p}', all_varchar=true)"

    latest = max(
        # a defect timestamp far in the future (the sample shop has some) is not the latest
        con.sql(
            f"select max(ts) from (select try_cast({col} as timestamp) as ts "
            f"from {reader(files[e])}) where ts <= now()"
        ).fetchall()[0][0]
        for e, col in MAIN_TIME.items()
        if e in files
    )
    cut = (latest - timedelta(days=7)).strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    known = {e.name for e in ENTITIES}
    for name, path in files.items():
        if name not in known:
            continue
        # rows whose timestamp does not parse stay (staging rejects them in both builds)
        where = (
            f"where coalesce(try_cast({MAIN_TIME[name]} as timestamp) < '{cut}', true)"
            if name in MAIN_TIME
            else ""
        )
        con.execute(
            f"copy (select * from {reader(path)} {where}) to '{out / (name + '.parquet')}'"
        )
    con.close()
    return cut


def feature_span(results: dict, manifest: dict) -> float:
    """The feature stage's elapsed seconds in one `dbt build` (run_results, manifest): from the
    end of the staging models (or the first feature model's start, if later) to the end of the
    last feature model or test of one. dbt runs some models concurrently (their summed times
    count the overlap twice; int_as_of_date and int_customers_resolved run beside staging), and
    `dbt build` runs each model's tests after it."""
    stage = {*FEATURE_MODELS, "training_examples", "feature_catalog"}

    def name(uid: str) -> str:
        return uid.split(".")[-1] if uid.startswith("model.") else ""

    def is_feature(uid: str) -> bool:
        if uid.startswith("model."):
            return name(uid) in stage
        node = manifest.get("nodes", {}).get(uid) or manifest.get("unit_tests", {}).get(uid) or {}
        return any(name(d) in stage for d in node.get("depends_on", {}).get("nodes", []))

    def window(r: dict) -> tuple[datetime, datetime] | None:
        for t in r["timing"]:
            if t["name"] == "execute" and t.get("started_at") and t.get("completed_at"):
                started = datetime.fromisoformat(t["started_at"])
                return started, datetime.fromisoformat(t["completed_at"])
        return None

    feature = [w for r in results["results"] if is_feature(r["unique_id"]) and (w := window(r))]
    staging = [
        w
        for r in results["results"]
        if r["unique_id"].startswith("model.")
        and name(r["unique_id"]) not in stage
        and (w := window(r))
    ]
    if not feature:
        return 0.0
    start = min(s for s, _ in feature)
    if staging:
        start = max(start, max(e for _, e in staging))
    return (max(e for _, e in feature) - start).total_seconds()


def build(data_dir: Path, db: Path, memory_limit: str) -> dict:
    """One `churnwatch run` in a subprocess: wall time, dbt's per-model times."""
    env = {**os.environ, "CHURNWATCH_MEMORY_LIMIT": memory_limit, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "churnwatch",
            "run",
            "--no-train",
            "--data-dir",
            str(data_dir),
            "--db",
            str(db),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-5000:], proc.stderr[-5000:])
        raise SystemExit(f"build failed on {data_dir}")
    results = json.loads((DBT_PROJECT_DIR / "target" / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    span = feature_span(results, manifest)
    return {"wall_s": wall, "models": models, "span_s": span}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, help="Existing data directory (else synthesize).")
    parser.add_argument(
        "--customers",
        type=int,
        default=50_000,
        help="Synthesized customers (default %(default)s).",
    )
    parser.add_argument(
        "--weeks", type=int, default=52, help="Synthesized history in weeks (default %(default)s)."
    )
    parser.add_argument(
        "--sessions-per-week",
        type=float,
        default=1.0,
        help="Synthesized browsing sessions per active customer-week.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the synthesized shop.")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/churnwatch-bench"),
        help="Scratch directory (recreated).",
    )
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get("CHURNWATCH_MEMORY_LIMIT", "8GB"),
        help="DuckDB memory_limit (default %(default)s).",
    )
    parser.add_argument(
        "--no-full",
        action="store_true",
        help="Skip build 1 (for shops where three builds take too long, e.g. 1 M customers): "
        "the base build (all but the last week, from an empty database) stands in for the full "
        "build, which makes the incremental ratio slightly pessimistic, and the final "
        "incremental-vs-full comparison is skipped (the test suite proves it on small shops).",
    )
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    data = args.data_dir
    if data is None:
        data = args.work / "data"
        synthesize(data, args.customers, args.weeks, args.seed, args.sessions_per_week)
    base = args.work / "base"
    cut = drop_last_week(data, base)

    first = build(base, args.work / "incr.duckdb", args.memory_limit)
    if args.no_full:
        full = first
        shutil.copy(args.work / "incr.duckdb", args.work / "full.duckdb")
    else:
        full = build(data, args.work / "full.duckdb", args.memory_limit)
    incr = build(data, args.work / "incr.duckdb", args.memory_limit)
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024

    import duckdb

    con = duckdb.connect(str(args.work / "full.duckdb"), read_only=True)
    rows = con.sql(
        "select count(*), count(distinct snapshot_date), count(distinct customer_id) "
        "from customer_features"
    ).fetchall()[0]
    n_orders = con.sql("select count(*) from staging.stg_shop__orders").fetchall()[0][0]
    n_events = con.sql("select count(*) from staging.stg_shop__events").fetchall()[0][0]
    con.close()
    print(f"\ndata: {data}  (last week cut at {cut}); memory_limit {args.memory_limit}")
    print(
        f"orders {n_orders}, events {n_events}; customer_features rows {rows[0]} "
        f"({rows[1]} snapshots, {rows[2]} customers)"
    )
    print(f"{'model':<36}{'full s':>10}{'base s':>10}{'incr s':>10}")
    for m in FEATURE_MODELS:
        times = (full["models"].get(m, 0), first["models"].get(m, 0), incr["models"].get(m, 0))
        print(f"{m:<36}" + "".join(f"{x:>10.1f}" for x in times))
    feat_full = sum(full["models"].get(m, 0) for m in FEATURE_MODELS)
    feat_incr = sum(incr["models"].get(m, 0) for m in FEATURE_MODELS)
    print(f"{'feature models total':<36}{feat_full:>10.1f}{'':>10}{feat_incr:>10.1f}")
    spans = (full["span_s"], first["span_s"], incr["span_s"])
    print(f"{'feature models + tests, elapsed':<36}" + "".join(f"{x:>10.1f}" for x in spans))
    walls = (full["wall_s"], first["wall_s"], incr["wall_s"])
    print(f"{'churnwatch run (wall)':<36}" + "".join(f"{x:>10.1f}" for x in walls))
    print(
        f"incremental / full: feature models {feat_incr / feat_full:.3f} (summed), "
        f"{incr['span_s'] / full['span_s']:.3f} (elapsed with tests), "
        f"whole run {incr['wall_s'] / full['wall_s']:.2f}"
    )
    print(f"peak RSS of a build process: {peak_gb:.2f} GB")
    if args.no_full:
        print("--no-full: 'full' is the base build (all but the last week); no comparison made")
        return 0
    print("incremental build vs full build (must be identical):")
    from compare_features import compare

    return compare(str(args.work / "full.duckdb"), str(args.work / "incr.duckdb"), 1e-9)


if __name__ == "__main__":
    raise SystemExit(main())
