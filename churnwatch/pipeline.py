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


def run_pipeline(data_dir: Path | str, db_path: Path | str, settings: RunSettings) -> Path:
    """Run the pipeline on `data_dir` into `db_path`; on any failure `db_path` is left as it was.

    The build works on a copy (`<db>.building`): the model registry and incremental history in
    the old database carry over, and the copy replaces the old file in one rename at the end.

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
