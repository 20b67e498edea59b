"""Per customer, the daily activity rows older than every window of this run's pairs, collapsed
into one row (lifetime sums in exact units, last-seen days): what int_customer_feature_windows
needs of old history, so that an incremental week reads only the recent daily rows. Each run
brings the previous table forward by the daily rows between its cut and the new one
(churnwatch/feature_windows.py `collapsed_history`); a first build or --full-refresh computes it
from all rows. Which sums: the config shared with int_customer_feature_windows
(_intermediate__models.yml).
"""

from churnwatch.feature_windows import WindowSpec, collapsed_history
from churnwatch.window_kernel import warm_up


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="customer_id",
        on_schema_change="fail",
    )
    # the window model runs next: its compiled loops load beside this model's DuckDB queries
    warm_up()
    # literal dbt.config.get calls: dbt reads a Python model's config keys from its source
    spec = WindowSpec.from_config(
        dbt.config.get("lifetime_measures"),
        dbt.config.get("window_measures"),
        dbt.config.get("last_seen"),
    )
    daily = dbt.ref("int_customer_daily_activity")
    pairs = dbt.ref("int_feature_pairs")
    previous = f"select * from {dbt.this!r}" if dbt.is_incremental else None
    return collapsed_history(session, daily.sql_query(), pairs.sql_query(), spec, previous)
