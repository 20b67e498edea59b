"""Old vs new feature models, side by side on the same staged database.

Takes a database whose staging tables are built (any `churnwatch run` output), copies it twice,
and rebuilds the feature models (`dbt run --full-refresh --select
int_customer_daily_activity+`, scoring excluded) once with an old checkout of the project and
once with this one, one after the other, so both see the same data and about the same machine
load. Prints dbt's per-model times, each run's wall time and peak RSS, and compares the feature
marts of the two databases (bench/compare_features.py).

Example (the old checkout from `git archive <rev> | tar -x -C /tmp/old`):
  python bench/ab_features.py --old-src /tmp/old --db /tmp/shop.duckdb --work /tmp/ab
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rebuild(src: Path, db: Path, memory_limit: str) -> dict:
    """The feature models of checkout `src` on `db`: per-model times, wall time, peak RSS."""
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "CHURNWATCH_DB": str(db),
        "CHURNWATCH_MEMORY_LIMIT": memory_limit,
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    cmd = [
        "/usr/bin/time",
        "-f",
        "maxrss_kb=%M",
        dbt,
        "run",
        "--full-refresh",
        "--project-dir",
        str(src / "dbt_project"),
        "--profiles-dir",
        str(src),
        "--select",
        "int_customer_daily_activity+",
        "--exclude",
        "tag:scoring",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-5000:], proc.stderr[-3000:])
        raise SystemExit(f"dbt failed for {src}")
    rss = [ln for ln in proc.stderr.splitlines() if ln.startswith("maxrss_kb=")]
    results = json.loads((src / "dbt_project" / "target" / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }
    return {
        "wall_s": wall,
        "models": models,
        "peak_gb": int(rss[-1].split("=")[1]) / 1024 / 1024 if rss else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old-src", type=Path, required=True, help="Old checkout (root).")
    parser.add_argument(
        "--new-src", type=Path, default=ROOT, help="New checkout (default: this one)."
    )
    parser.add_argument("--db", type=Path, required=True, help="A database with staging built.")
    parser.add_argument("--work", type=Path, required=True, help="Scratch directory (recreated).")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit.")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    runs = {}
    for name, src in (("old", args.old_src.resolve()), ("new", args.new_src.resolve())):
        db = args.work / f"{name}.duckdb"
        shutil.copy(args.db, db)
        print(f"{name}: {os.getloadavg()[0]:.1f} load average before", flush=True)
        runs[name] = rebuild(src, db, args.memory_limit)
    models = sorted(set(runs["old"]["models"]) | set(runs["new"]["models"]))
    print(f"{'model (s)':<36}{'old':>10}{'new':>10}")
    for m in models:
        old, new = runs["old"]["models"].get(m), runs["new"]["models"].get(m)
        print(
            f"{m:<36}"
            + "".join(f"{x:>10.1f}" if x is not None else f"{'-':>10}" for x in (old, new))
        )
    total = {k: sum(r["models"].values()) for k, r in runs.items()}
    print(f"{'models total':<36}{total['old']:>10.1f}{total['new']:>10.1f}")
    print(f"{'dbt run wall':<36}{runs['old']['wall_s']:>10.1f}{runs['new']['wall_s']:>10.1f}")
    print(f"{'peak RSS (GB)':<36}{runs['old']['peak_gb']:>10.2f}{runs['new']['peak_gb']:>10.2f}")
    print(f"new / old (models total): {total['new'] / total['old']:.2f}")
    print(f"load average after: {os.getloadavg()}")
    sys.path.insert(0, str(Path(__file__).parent))
    from compare_features import compare

    return compare(str(args.work / "old.duckdb"), str(args.work / "new.duckdb"), 1e-9)


if __name__ == "__main__":
    raise SystemExit(main())
