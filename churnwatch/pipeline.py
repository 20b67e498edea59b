"""The whole job on one data directory: ingest, dbt build (and, as the project grows, train and
score), built into a copy of the database that replaces the old one only when every step passed.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import duckdb

from churnwatch.config import RunSettings
from churnwatch.dbt_runner import run_dbt
from churnwatch.ingest import ingest

log = logging.getLogger(__name__)


def _building_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".building")


def _has_active_model(db_path: Path) -> bool:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'model_registry'"
        ).fetchall()[0][0]
        if not found:
            return False
        return bool(
            con.execute(
                "select count(*) from main.model_registry where status = 'active'"
            ).fetchall()[0][0]
        )
    finally:
        con.close()


def _ensure_model(db_path: Path, settings: RunSettings, artifacts: Path | None) -> None:
    """Train and register a model when no active one fits the current features and horizon."""
    from churnwatch.features import feature_names
    from models_py.data import DataError
    from models_py.registry import ensure_model

    resolved = settings.resolved()
    try:
        record = ensure_model(
            db_path,
            feature_names(),
            int(resolved["churn_horizon_days"]),
            active_window_days=int(resolved["active_window_days"]),
            artifacts=artifacts,
            log=log.info,
        )
    except DataError as exc:
        # Too little labelled history is a property of the data, not a failure of the run: the
        # tables are still worth having, and scoring starts once a model can be trained.
        log.warning("cannot train a model yet, churn_scores skipped: %s", exc)
        return
    log.info("active model: %s", record.model_version)


def run_pipeline(
    data_dir: Path | str,
    db_path: Path | str,
    settings: RunSettings,
    *,
    train: bool = False,
    artifacts: Path | None = None,
) -> Path:
    """Run the pipeline on `data_dir` into `db_path`; on any failure `db_path` is left as it was.

    The build works on a copy (`<db>.building`): the model registry and incremental history in
    the old database carry over, and the copy replaces the old file in one rename at the end.

    Args:
        data_dir: Directory of entity files (docs/data-contract.md).
        db_path: The DuckDB file to build.
        settings: Horizon, active window, as-of date (None = dbt_project.yml defaults).
        train: Train a model when no compatible active model exists (else scoring is skipped
            until one does).
        artifacts: Where model files go (default: CHURNWATCH_ARTIFACTS or ./artifacts).

    Returns:
        The database path.
    """
    db_path = Path(db_path)
    building = _building_path(db_path)
    for leftover in (building, Path(str(building) + ".wal")):
        leftover.unlink(missing_ok=True)
    if db_path.exists():
        shutil.copy2(db_path, building)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        log.info("ingesting %s", data_dir)
        ingest(building, data_dir)
        log.info("dbt build (staging, features, labels)")
        run_dbt("build", building, dbt_vars=settings.dbt_vars(), exclude="tag:scoring")
        if train:
            _ensure_model(building, settings, artifacts)
        if _has_active_model(building):
            log.info("dbt build (scoring)")
            run_dbt("build", building, dbt_vars=settings.dbt_vars(), select="tag:scoring")
        else:
            log.warning("no active model yet: skipping churn_scores (run `churnwatch train`)")
        os.replace(building, db_path)
    except BaseException:
        building.unlink(missing_ok=True)
        Path(str(building) + ".wal").unlink(missing_ok=True)
        raise
    log.info("done in %.1f s: %s", time.perf_counter() - started, db_path)
    return db_path
