"""Run dbt on the churnwatch project against one DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from churnwatch.config import DBT_PROJECT_DIR, PROFILES_DIR, dbt_executable


class DbtError(RuntimeError):
    """dbt failed; its own output above says which model or test."""


def run_dbt(
    command: str,
    db_path: Path | str,
    *,
    dbt_vars: dict | None = None,
    select: str | None = None,
    exclude: str | None = None,
    quiet: bool = False,
    extra_args: list[str] | None = None,
) -> subprocess.CompletedProcess:
    """Run `dbt <command>` (build, test, run, ...) with CHURNWATCH_DB pointing at `db_path`.

    Raises:
        DbtError: when dbt exits non-zero.
    """
    args = [
        dbt_executable(),
        command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(PROFILES_DIR),
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
    if quiet:
        args += ["--quiet"]
    args += extra_args or []
    env = {**os.environ, "CHURNWATCH_DB": str(Path(db_path).resolve())}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    proc = subprocess.run(args, env=env, cwd=str(DBT_PROJECT_DIR), check=False)
    if proc.returncode != 0:
        raise DbtError(
            f"dbt {command} failed (exit {proc.returncode}) on {db_path}; see dbt's output above."
        )
    return proc
