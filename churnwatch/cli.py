"""The `churnwatch` command. Each subcommand has --help; heavy imports happen inside handlers."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from churnwatch.config import DEFAULT_DB

EPILOG = "Run `churnwatch <command> --help` for a command's options. Docs: README.md, docs/."


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )


def _cmd_prepare_cdnow(args: argparse.Namespace) -> int:
    from churnwatch.prepare_cdnow import prepare_cdnow

    out = prepare_cdnow(args.master_file, args.out)
    print(f"wrote {out}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from churnwatch.ingest import ingest

    loads = ingest(args.db, args.data_dir)
    for x in loads:
        print(f"{x.entity:<16} {x.file_format or '-':<8} {x.rows_read:>10} rows  {x.note}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from churnwatch.config import RunSettings
    from churnwatch.pipeline import run_pipeline

    settings = RunSettings(
        churn_horizon_days=args.horizon_days,
        active_window_days=args.active_days,
        as_of_date=args.as_of_date,
        daily_activity_part_rows=args.daily_part_rows,
    )
    run_pipeline(
        args.data_dir,
        args.db,
        settings,
        train=not args.no_train,
        artifacts=args.artifacts,
        full_refresh=args.full_refresh,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="churnwatch",
        description="Churn early warning for online shops: dbt + DuckDB + an ONNX model.",
        epilog=EPILOG,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug messages.")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    p = sub.add_parser("prepare", help="Convert a public data set into the raw-data contract.")
    prep = p.add_subparsers(dest="dataset", metavar="<dataset>", required=True)
    c = prep.add_parser(
        "cdnow",
        help="CDNOW_master.txt -> orders.csv",
        description="Convert the CDNOW master file (customer_id date n_cds dollars) into "
        "orders.csv of the raw-data contract.",
    )
    c.add_argument("master_file", type=Path, help="Path to CDNOW_master.txt.")
    c.add_argument("--out", type=Path, required=True, help="Output directory.")
    c.set_defaults(func=_cmd_prepare_cdnow)

    p = sub.add_parser(
        "ingest",
        help="Load a data directory into the raw schema (no cleaning).",
        description="Check the files of DATA_DIR against the contract and load them into the "
        "`raw` schema of the database. `churnwatch run` does this and everything after it.",
    )
    p.add_argument("data_dir", type=Path, help="Directory of <entity>.parquet|csv|csv.gz files.")
    p.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help="DuckDB file (default: %(default)s)."
    )
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser(
        "run",
        help="Run the pipeline on a data directory.",
        description="Ingest DATA_DIR, build the dbt models, train a model when no compatible "
        "active one exists, and score the customers into churn_scores. The build happens in a "
        "copy that replaces the database only when every step passed.",
    )
    p.add_argument("--data-dir", type=Path, required=True, help="Directory of entity files.")
    p.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help="DuckDB file (default: %(default)s)."
    )
    p.add_argument(
        "--horizon-days", type=int, help="Churn horizon (default from dbt_project.yml)."
    )
    p.add_argument("--active-days", type=int, help="Active window (default from dbt_project.yml).")
    p.add_argument(
        "--as-of-date", help="Score as of this date (YYYY-MM-DD; default: after the data)."
    )
    p.add_argument(
        "--no-train",
        action="store_true",
        help="Do not train a model when none fits; churn_scores is then skipped.",
    )
    p.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="Model artifacts folder (default: $CHURNWATCH_ARTIFACTS or ./artifacts).",
    )
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="Rebuild features, labels and daily activity from scratch (automatic when the "
        "dbt models, vars, horizon or active window changed since the last build).",
    )
    p.add_argument(
        "--daily-part-rows",
        type=int,
        metavar="N",
        help="Build the daily activity table in customer ranges of at most N source rows "
        "(default from dbt_project.yml, 20,000,000, sized for the 8GB memory limit; lower it "
        "with CHURNWATCH_MEMORY_LIMIT). Never changes the result.",
    )
    p.set_defaults(func=_cmd_run)

    for module in _plugin_cli_modules():
        module.add_subcommands(sub)
    return parser


def _plugin_cli_modules() -> list:
    """CLI modules of the other packages (light: they import their heavy parts lazily)."""
    import churnwatch.sample.cli
    import models_py.cli

    return [churnwatch.sample.cli, models_py.cli]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    from churnwatch.dbt_runner import DbtError
    from churnwatch.ingest import IngestError
    from churnwatch.prepare_cdnow import PrepareError
    from models_py.data import DataError
    from models_py.registry import RegistryError

    try:
        return int(args.func(args) or 0)
    except (IngestError, PrepareError, DbtError, DataError, RegistryError) as exc:
        print(f"churnwatch: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
