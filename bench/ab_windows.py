"""int_customer_feature_windows' computation with and without collapsing old daily rows, side by
side in one process on one built database.

Reads the database's int_feature_pairs (the pairs of its last run: after an incremental run, the
new week(s) and the as-of date; after a full build, every snapshot) and
int_customer_daily_activity, and runs `window_batches` without the collapsed history (every
daily row of every customer in numpy) and with int_customer_collapsed_history (its rows before
the cut, and the daily rows from the cut on, when the pairs allow it), alternating, `--repeat`
times each. Prints each run's seconds, the median ratio, and checks that both give identical
tables. The window spec comes from the model's config in _intermediate__models.yml.

Example:
  python bench/ab_windows.py --db /tmp/featinc/b20k/incr.duckdb --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import yaml  # noqa: E402

from churnwatch.feature_windows import WindowSpec, window_batches  # noqa: E402

MODELS_YML = ROOT / "dbt_project" / "models" / "intermediate" / "_intermediate__models.yml"


def spec_from_yml() -> tuple[WindowSpec, int]:
    models = yaml.safe_load(MODELS_YML.read_text())["models"]
    cfg = next(m for m in models if m["name"] == "int_customer_feature_windows")["config"]
    spec = WindowSpec.from_config(
        cfg["lifetime_measures"], cfg["window_measures"], cfg["last_seen"]
    )
    return spec, int(cfg.get("chunk_customers") or 20000)


def run(con, spec: WindowSpec, chunk: int, collapse: bool) -> tuple[float, pa.Table]:
    t0 = time.perf_counter()
    schema, batches = window_batches(
        con,
        "select * from intermediate.int_customer_daily_activity",
        "select * from intermediate.int_feature_pairs",
        spec,
        chunk_customers=chunk,
        collapsed_sql=(
            "select * from intermediate.int_customer_collapsed_history" if collapse else None
        ),
    )
    table = pa.Table.from_batches(list(batches), schema=schema)
    return time.perf_counter() - t0, table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="A built churnwatch database.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs of each variant (default 3).")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2).")
    args = ap.parse_args()
    spec, chunk = spec_from_yml()
    con = duckdb.connect(str(args.db), read_only=True, config={"threads": args.threads})
    pairs, daily = con.sql(
        "select (select count(*) from intermediate.int_feature_pairs),"
        " (select count(*) from intermediate.int_customer_daily_activity)"
    ).fetchall()[0]
    print(f"{args.db}: {pairs:,} pairs, {daily:,} daily rows")
    times: dict[bool, list[float]] = {False: [], True: []}
    tables: dict[bool, pa.Table] = {}
    for _ in range(args.repeat):
        for collapse in (False, True):
            secs, tables[collapse] = run(con, spec, chunk, collapse)
            times[collapse].append(secs)
            print(f"collapse={collapse}: {secs:.2f} s")
    old, new = statistics.median(times[False]), statistics.median(times[True])
    print(f"median: all rows {old:.2f} s, collapsed {new:.2f} s, ratio {new / old:.2f}")
    same = tables[False].equals(tables[True])
    print("identical tables:", "OK" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
