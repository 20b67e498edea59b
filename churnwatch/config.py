"""Paths and settings in one place; machine-specific values come from the environment."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = ROOT / "dbt_project"
PROFILES_DIR = ROOT
DEFAULT_DB = Path(os.environ.get("CHURNWATCH_DB", "churnwatch.duckdb"))
DEFAULT_ARTIFACTS = Path(os.environ.get("CHURNWATCH_ARTIFACTS", "artifacts"))


def dbt_project_vars() -> dict:
    """The `vars:` of dbt_project.yml: the tunables' defaults (horizon, windows, features)."""
    with open(DBT_PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh).get("vars") or {})


def dbt_executable() -> str:
    """The dbt of the environment churnwatch runs in (the project's venv)."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


@dataclass(frozen=True)
class RunSettings:
    """The tunables of one pipeline run; None means the dbt_project.yml default."""

    churn_horizon_days: int | None = None
    active_window_days: int | None = None
    as_of_date: str | None = None
    # How int_customer_daily_activity is split to bound memory (source rows per customer range);
    # an execution setting: it never changes what is built.
    daily_activity_part_rows: int | None = None

    def dbt_vars(self) -> dict:
        out: dict = {}
        if self.churn_horizon_days is not None:
            out["churn_horizon_days"] = int(self.churn_horizon_days)
        if self.active_window_days is not None:
            out["active_window_days"] = int(self.active_window_days)
        if self.as_of_date is not None:
            out["as_of_date"] = str(self.as_of_date)
        if self.daily_activity_part_rows is not None:
            out["daily_activity_part_rows"] = int(self.daily_activity_part_rows)
        return out

    def resolved(self) -> dict:
        """Every tunable with the project defaults filled in."""
        return {**dbt_project_vars(), **self.dbt_vars()}
