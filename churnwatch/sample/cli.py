"""`churnwatch sample`: the argparse subcommand (light module, heavy imports in the handler)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError("defect rate must be in [0, 0.5)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the options of `sample` to a parser."""
    p.add_argument(
        "--customers", type=_positive, default=20_000, help="number of customers (default: 20000)"
    )
    p.add_argument(
        "--days",
        type=_positive,
        default=540,
        help="length of the simulated period in days (default: 540)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed; same seed and options give the same bytes (default: 42)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("data/sample"),
        help="output directory (default: data/sample)",
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the entity files (default: parquet)",
    )
    p.add_argument(
        "--defect-rate",
        type=_rate,
        default=0.005,
        help="probability that a row gets a data-quality defect, counted in "
        "_manifest.json (default: 0.005; 0 for clean data)",
    )
    p.add_argument(
        "--end-date",
        type=_date,
        default=dt.date(2026, 6, 30),
        help="last day of the period, YYYY-MM-DD (default: 2026-06-30)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=min(2, os.cpu_count() or 1),
        help="processes simulating chunks of 25,000 customers in parallel; the output does not "
        "depend on it (default: min(2, CPUs))",
    )
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(func=run)
    return p


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `sample` subcommand to the `churnwatch` parser."""
    p = subparsers.add_parser(
        "sample",
        help="generate a synthetic shop (every raw-data entity, defects, ground truth)",
        description=(
            "Simulate a shop's customers (orders, items, sessions, reviews, tickets, emails) "
            "with a known churn process. Writes <entity>.parquet|csv, _manifest.json (expected "
            "cleaning counts) and _truth/ (latent state; see churnwatch.sample.truth)."
        ),
    )
    configure_parser(p)


def run(args: argparse.Namespace) -> int:
    """Handler of `churnwatch sample`."""
    import json
    import time

    from churnwatch.sample.writer import SampleConfig, generate_sample

    cfg = SampleConfig(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        out=args.out,
        fmt=args.fmt,
        defect_rate=args.defect_rate,
        end_date=args.end_date,
        workers=args.workers,
    )
    t0 = time.perf_counter()
    manifest = generate_sample(cfg, progress=not args.no_progress)
    rows = {k: v["rows_written"] for k, v in manifest["entities"].items()}
    print(f"wrote {args.out} in {time.perf_counter() - t0:.1f}s: {json.dumps(rows)}")
    return 0
