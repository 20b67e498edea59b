"""Benchmark of `churnwatch sample`: wall time, peak memory, label rate and AUCs.

Each size is generated in a child process (``python -m churnwatch.sample``). Memory: the peak
RSS of the largest single process (``resource.getrusage(RUSAGE_CHILDREN)``, the maximum over
the children so far: give the sizes in increasing order) and the peak of the summed RSS of the
whole process tree (main + workers), sampled twice a second from /proc. Then, from the ground
truth, at a few snapshots: the 30-day label rate of active customers, the ROC-AUC of
days-since-last-order and the ROC-AUC of the true churn probability (the ceiling).

Usage:
    PYTHONPATH=. python bench/bench_sample.py --sizes 20000 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _tree_rss_mb(root: int) -> float:
    """Sum of VmRSS of a process and all its descendants (Linux /proc), in MB."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        parent[int(d)] = int(fields["PPid"].strip())
        rss[int(d)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(c for c, p in parent.items() if p == pid)
    return total / 1024


def run_one(customers: int, days: int, fmt: str, out: Path, seed: int, workers: int) -> dict:
    """Generates one sample in a child process; returns time, peak RSS and row counts."""
    cmd = [
        sys.executable,
        "-m",
        "churnwatch.sample",
        "--customers",
        str(customers),
        "--days",
        str(days),
        "--format",
        fmt,
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--no-progress",
        "--workers",
        str(workers),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": os.getcwd()})
    tree_peak = 0.0
    while proc.poll() is None:
        tree_peak = max(tree_peak, _tree_rss_mb(proc.pid))
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"generation failed: {cmd}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((out / "_manifest.json").read_text())
    rows = {k: v["rows_written"] for k, v in manifest["entities"].items()}
    return {
        "wall_s": wall,
        "peak_rss_mb": peak_kb / 1024,
        "peak_tree_rss_mb": tree_peak,
        "rows": rows,
    }


def quality(out: Path, back_days: list[int], horizon: int) -> list[dict]:
    """Label rate, recency AUC and ceiling AUC at snapshots ``end - back`` days."""
    from sklearn.metrics import roc_auc_score

    from churnwatch.sample import truth as tr

    truth = tr.load_truth(out)
    end = truth.start + dt.timedelta(days=truth.days - 1)
    res = []
    for back in back_days:
        snap = end - dt.timedelta(days=back)
        y = tr.empirical_churn_labels(truth, snap, horizon).is_churned.to_numpy()
        p = tr.true_churn_probability(truth, snap, horizon).p_churn.to_numpy()
        rec = tr.days_since_last_order(truth, snap).recency_days.to_numpy()
        res.append(
            {
                "snapshot": snap.isoformat(),
                "active": int(y.size),
                "label_rate": float(y.mean()),
                "mean_p": float(p.mean()),
                "auc_recency": float(roc_auc_score(y, rec)),
                "auc_ceiling": float(roc_auc_score(y, p)),
            }
        )
    return res


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[20_000, 1_000_000],
        help="numbers of customers to generate (default: 20000 1000000)",
    )
    ap.add_argument("--days", type=int, default=540, help="period length in days (default: 540)")
    ap.add_argument(
        "--format",
        dest="fmt",
        choices=("parquet", "csv"),
        default="parquet",
        help="output format (default: parquet)",
    )
    ap.add_argument("--seed", type=int, default=42, help="seed (default: 42)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    ap.add_argument(
        "--out-root",
        type=Path,
        default=Path("/tmp/churnwatch-bench-sample"),
        help="where the samples are written (default: /tmp/churnwatch-bench-sample)",
    )
    ap.add_argument(
        "--snapshots-back",
        type=int,
        nargs="+",
        default=[60, 180, 300],
        help="snapshots as days before the end date (default: 60 180 300)",
    )
    ap.add_argument("--horizon", type=int, default=30, help="churn horizon in days (default: 30)")
    ap.add_argument("--skip-quality", action="store_true", help="only time the generation")
    args = ap.parse_args(argv)

    perf_rows, qual_rows = [], []
    for n in args.sizes:
        out = args.out_root / f"n{n}_{args.fmt}"
        r = run_one(n, args.days, args.fmt, out, args.seed, args.workers)
        total = sum(r["rows"].values())
        perf_rows.append(
            f"| {n:,} | {args.days} | {args.fmt} | {args.workers} | {r['wall_s']:.1f} | "
            f"{r['peak_rss_mb']:.0f} | {r['peak_tree_rss_mb']:.0f} | "
            f"{r['rows']['orders']:,} | {r['rows']['events']:,} | {total:,} |"
        )
        print(
            f"[bench] {n} customers: {r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        if not args.skip_quality:
            for q in quality(out, args.snapshots_back, args.horizon):
                qual_rows.append(
                    f"| {n:,} | {q['snapshot']} | {q['active']:,} | {q['label_rate']:.3f} | "
                    f"{q['mean_p']:.3f} | {q['auc_recency']:.3f} | {q['auc_ceiling']:.3f} |"
                )
    print(
        "| customers | days | format | workers | wall s | peak RSS MB, largest process | "
        "peak RSS MB, all processes (sampled 2/s) | orders | events | rows, all files |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(perf_rows))
    if qual_rows:
        print()
        print(
            f"| customers | snapshot | active | label rate ({args.horizon}d) | mean true p | "
            "AUC days-since-last-order | AUC true p (ceiling) |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|")
        print("\n".join(qual_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
