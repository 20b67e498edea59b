"""Per customer, the state at the latest calendar snapshot C of its daily activity rows before
C: lifetime sums in exact units, last-seen days, and every trailing window's sum over
[C - w, C). int_customer_feature_windows carries these forward to a pair at T >= C by reading
only the days that entered or left a window since C, so an incremental week reads a few weeks of
daily rows, not 26. Each run brings the previous table forward the same way
(churnwatch/feature_windows.py `collapsed_history`); a first build or --full-refresh computes it
from all rows. Which sums: the config shared with int_customer_feature_windows
(_intermediate__models.yml)."""

from churnwatch.feature_windows import WindowSpec, collapsed_history


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="customer_id",
        on_schema_change="fail",
    )
    # literal dbt.config.get calls: dbt reads a Python model's config keys from its source
    spec = WindowSpec.from_config(
        dbt.config.get("lifetime_measures"),
        dbt.config.get("window_measures"),
        dbt.config.get("last_seen"),
    )
    daily = dbt.ref("int_customer_daily_activity")
    calendar = dbt.ref("int_snapshot_calendar")
    previous = f"select * from {dbt.this!r}" if dbt.is_incremental else None
    return collapsed_history(session, daily.sql_query(), calendar.sql_query(), spec, previous)
