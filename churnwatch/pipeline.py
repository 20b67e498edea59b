"""The whole job on one data directory: ingest, dbt build (and, as the project grows, train and
score), built into a copy of the database that replaces the old one only when every step passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import duckdb

from churnwatch.config import DBT_PROJECT_DIR, ROOT, RunSettings
from churnwatch.dbt_runner import run_dbt
from churnwatch.ingest import ingest

log = logging.getLogger(__name__)


def _building_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".building")


BUILD_STATE_TABLE = "main._churnwatch_build"
# What shapes the tables the incremental models keep: the dbt project and the Python code its
# Python models run. A change to any of them (an upgrade, an edited var) makes the kept
# snapshots stale, so the next run rebuilds them.
_DEFINITION_SOURCES = (
    DBT_PROJECT_DIR / "dbt_project.yml",
    DBT_PROJECT_DIR / "models",
    DBT_PROJECT_DIR / "macros",
    ROOT / "churnwatch" / "feature_windows.py",
    ROOT / "churnwatch" / "window_kernel.py",
)


# Vars that do not change what is built: the as-of date moves on every run, and the daily
# table's customer ranges only bound memory.
_NOT_DEFINITION = ("as_of_date", "daily_activity_part_rows")


def definition_digest(settings: RunSettings) -> str:
    """sha256 of everything that defines the built tables, except the as-of date.

    The as-of date moves on every run by design (the incremental models handle it); the
    horizon, the active window, every other var and the model code do not.
    """
    h = hashlib.sha256()
    resolved = {k: v for k, v in settings.resolved().items() if k not in _NOT_DEFINITION}
    h.update(json.dumps(resolved, sort_keys=True, default=str).encode())
    for source in _DEFINITION_SOURCES:
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for f in files:
            if f.is_file() and f.suffix in (".sql", ".py", ".yml", ".yaml"):
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _stored_digest(db_path: Path) -> tuple[bool, str | None]:
    """(whether db_path holds an earlier build, the definition digest it was built with)."""
    if not db_path.exists():
        return False, None
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        built = "main.customer_features" in tables or "staging.ingest_audit" in tables
        if BUILD_STATE_TABLE not in tables:
            return built, None
        rows = con.execute(
            f"select definition_digest from {BUILD_STATE_TABLE} order by built_at desc limit 1"
        ).fetchall()
        return built, rows[0][0] if rows else None
    finally:
        con.close()


def _record_digest(db_path: Path, digest: str, full_refresh: bool) -> None:
    con = duckdb.connect(str(db_path))
    try:
        con.execute(
            f"create table if not exists {BUILD_STATE_TABLE} ("
            "built_at timestamp, definition_digest varchar, full_refresh boolean)"
        )
        con.execute(
            f"insert into {BUILD_STATE_TABLE} values (?, ?, ?)",
            [dt.datetime.now(dt.UTC).replace(tzinfo=None), digest, full_refresh],
        )
    finally:
        con.close()


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
    full_refresh: bool = False,
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
        full_refresh: Rebuild the incremental tables (features, labels, daily activity) from
            scratch. Done anyway when the project's definition (dbt models, vars, the horizon
            or active window) changed since the database was last built: kept snapshots would
            otherwise mix two definitions. churn_scores keeps its history either way.

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
        digest = definition_digest(settings)
        built_before, stored = _stored_digest(building)
        if built_before and stored != digest and not full_refresh:
            log.info(
                "the definitions changed since %s was built (dbt models, vars, horizon or "
                "active window): rebuilding its features and labels from scratch",
                db_path,
            )
            full_refresh = True
        log.info("dbt build (staging, features, labels)%s", ", full refresh" * full_refresh)
        run_dbt(
            "build",
            building,
            dbt_vars=settings.dbt_vars(),
            exclude="tag:scoring",
            extra_args=["--full-refresh"] if full_refresh else None,
        )
        _record_digest(building, digest, full_refresh)
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
