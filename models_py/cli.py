"""`churnwatch train | evaluate | models list|promote|rollback` (argparse).

Light module: no TensorFlow (or training code) at import; each handler imports what it needs.
Handlers are attached as `func` (``args.func(args) -> int`` exit code).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

DB_ENV = "CHURNWATCH_DB"


def _add_db(p: argparse.ArgumentParser) -> None:
    default = os.environ.get(DB_ENV)
    p.add_argument(
        "--db",
        default=default,
        required=default is None,
        metavar="PATH",
        help=f"DuckDB database file (default: ${DB_ENV})",
    )


def add_subcommands(subparsers: Any) -> None:
    """Add `train`, `evaluate` and `models` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "train",
        help="train, evaluate and register a churn model from main.training_examples",
        description="Train logistic regression and an MLP on main.training_examples (time "
        "split with one-horizon gaps), calibrate, export the best by validation PR-AUC to "
        "ONNX and register it; it becomes active unless worse than the active model.",
    )
    _add_db(p)
    p.add_argument(
        "--horizon-days",
        type=int,
        default=30,
        help="churn horizon the training_examples were built with (default 30)",
    )
    p.add_argument(
        "--active-window-days",
        type=int,
        default=180,
        help="active window of the churn definition, recorded with the model (default 180)",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--force",
        action="store_true",
        help="activate the new model even if it is worse than the active one",
    )
    p.add_argument(
        "--no-activate",
        action="store_true",
        help="register a good model as 'candidate' without activating it",
    )
    p.add_argument(
        "--artifacts",
        metavar="DIR",
        default=None,
        help="artifacts root (default: $CHURNWATCH_ARTIFACTS or ./artifacts)",
    )
    p.add_argument(
        "--algorithms",
        default="logreg,mlp",
        help="comma-separated algorithms among logreg,mlp (default logreg,mlp)",
    )
    p.add_argument(
        "--max-epochs",
        type=int,
        default=15,
        help="epoch limit of the final fits; early stopping on validation (default 15)",
    )
    p.add_argument(
        "--batch-size", type=int, default=8192, help="largest batch size (default 8192)"
    )
    p.add_argument("--val-snapshots", type=int, default=2, help="validation snapshots (default 2)")
    p.add_argument(
        "--test-snapshots", type=int, default=1, help="test snapshots, the latest ones (default 1)"
    )
    p.add_argument(
        "--no-search",
        action="store_true",
        help="skip the hyperparameter search (first config of each algorithm)",
    )
    p.add_argument(
        "--no-refit",
        action="store_true",
        help="register the model fitted on the training snapshots only (default: refit the "
        "selected configuration on every snapshot labelled before the test)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow intra-op threads (default 0 = TensorFlow decides)",
    )
    p.add_argument(
        "--explainer-candidates",
        type=int,
        default=8,
        help="reason codes of an MLP: features occluded exactly per customer, ranked by "
        "gradient (default 8; fewer is faster and more often misses one of the true top 3; "
        "logistic regression is always exact for all features)",
    )
    p.add_argument(
        "--max-examples",
        type=int,
        default=2_000_000,
        help="train on a fixed hash sample of customers when training_examples has more rows "
        "than this (default 2,000,000; 0 = all rows)",
    )
    p.add_argument(
        "--high-precision",
        type=float,
        default=0.7,
        help="high tier = lowest validation threshold with this precision (default 0.7)",
    )
    p.add_argument(
        "--high-fallback-top",
        type=float,
        default=0.05,
        help="high tier = this top share if the precision is never reached (default 0.05)",
    )
    p.add_argument(
        "--medium-top",
        type=float,
        default=0.20,
        help="medium tier = this top share of validation scores (default 0.20)",
    )
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "evaluate",
        help="print a registered model's metrics on its test snapshot(s)",
        description="Re-score a registered model's ONNX file on its test snapshot(s) from "
        "main.training_examples and print the metrics table.",
    )
    _add_db(p)
    p.add_argument(
        "--model",
        metavar="VERSION",
        default=None,
        help="model version (default: the active model)",
    )
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser(
        "models",
        help="list, promote or roll back registered models",
        description="Manage main.model_registry.",
    )
    sub = p.add_subparsers(
        dest="models_command",
        metavar="{list,promote,rollback}",
        required=True,
        help="what to do with the registry",
    )
    q = sub.add_parser(
        "list", help="list registered models", description="List registered models."
    )
    _add_db(q)
    q.set_defaults(func=_models_list)
    q = sub.add_parser(
        "promote",
        help="make a model version active",
        description="Make VERSION active; the active model becomes 'retired'.",
    )
    q.add_argument("version", metavar="VERSION", help="model version to activate")
    _add_db(q)
    q.set_defaults(func=_models_promote)
    q = sub.add_parser(
        "rollback",
        help="reactivate the previous model",
        description="Retire the active model and reactivate the previous one.",
    )
    _add_db(q)
    q.set_defaults(func=_models_rollback)


def _train(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from models_py.data import DataError
    from models_py.metrics import ThresholdPolicy
    from models_py.train import TrainConfig, train_and_register

    try:
        config = TrainConfig(
            horizon_days=args.horizon_days,
            active_window_days=args.active_window_days,
            seed=args.seed,
            algorithms=tuple(a.strip() for a in args.algorithms.split(",") if a.strip()),
            max_epochs=args.max_epochs,
            batch_size=args.batch_size,
            val_snapshots=args.val_snapshots,
            test_snapshots=args.test_snapshots,
            search=not args.no_search,
            refit=not args.no_refit,
            threads=args.threads,
            policy=ThresholdPolicy(args.high_precision, args.high_fallback_top, args.medium_top),
            explainer_candidates=args.explainer_candidates,
            max_examples=args.max_examples or None,
        )
        result = train_and_register(
            args.db,
            config,
            artifacts=args.artifacts,
            force=args.force,
            activate=not args.no_activate,
        )
    except (DataError, ValueError) as exc:
        print(f"churnwatch train: {exc}", file=sys.stderr)
        return 2
    if result.status == "rejected":
        print(
            f"model {result.record.model_version} rejected: {result.reason} "
            "(use --force to activate it anyway)"
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import duckdb

    from models_py import metrics
    from models_py.data import DataError
    from models_py.evaluate import evaluate_model
    from models_py.registry import RegistryError

    try:
        with duckdb.connect(args.db) as con:
            res = evaluate_model(con, args.model)
    except (RegistryError, DataError) as exc:
        print(f"churnwatch evaluate: {exc}", file=sys.stderr)
        return 2
    rec = res["model"]
    print(
        f"model {rec.model_version} ({rec.algorithm}, {rec.status}) on test snapshot(s) "
        f"{rec.test_start_date}..{rec.test_end_date}"
    )
    table = {rec.model_version: res["metrics"]}
    if res["baseline"] is not None:
        table["recency baseline"] = res["baseline"]
    print(metrics.format_table(table))
    return 0


def _models_list(args: argparse.Namespace) -> int:
    import duckdb

    from models_py import registry

    with duckdb.connect(args.db) as con:
        records = registry.list_models(con)
    print(registry.format_models(records) if records else "no models registered")
    return 0


def _models_promote(args: argparse.Namespace) -> int:
    import duckdb

    from models_py import registry

    try:
        with duckdb.connect(args.db) as con:
            rec = registry.promote(con, args.version)
    except registry.RegistryError as exc:
        print(f"churnwatch models promote: {exc}", file=sys.stderr)
        return 2
    print(f"{rec.model_version} is active")
    return 0


def _models_rollback(args: argparse.Namespace) -> int:
    import duckdb

    from models_py import registry

    try:
        with duckdb.connect(args.db) as con:
            rec = registry.rollback(con)
    except registry.RegistryError as exc:
        print(f"churnwatch models rollback: {exc}", file=sys.stderr)
        return 2
    print(f"rolled back: {rec.model_version} is active")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with these subcommands (for `python -m models_py`)."""
    parser = argparse.ArgumentParser(prog="python -m models_py", description="churnwatch models")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, help="train | evaluate | models"
    )
    add_subcommands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
