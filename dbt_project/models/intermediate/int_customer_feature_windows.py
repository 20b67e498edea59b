"""The activity sums behind the features, for every (customer, snapshot) pair of this run
(int_feature_pairs): `<measure>_all` (all history before T), `<measure>_<w>d` (the trailing
window [T - w, T)) and `last_<name>_date` (last day before T with that activity), only from
int_customer_daily_activity rows dated before T. Which sums: this model's config
(_intermediate__models.yml). Prefix sums in compiled loops, in chunks of customers
(churnwatch/feature_windows.py): no running-sum windows or ASOF joins in SQL. Daily rows older
than the run's earliest snapshot minus the widest window (on an incremental run, most of
history) come collapsed per customer from int_customer_collapsed_history.
"""

import pyarrow as pa

from churnwatch.feature_windows import WindowSpec, window_batches


def model(dbt, session):
    dbt.config(materialized="table")
    spec = WindowSpec.from_config(
        dbt.config.get("lifetime_measures"),
        dbt.config.get("window_measures"),
        dbt.config.get("last_seen"),
    )
    daily = dbt.ref("int_customer_daily_activity")
    pairs = dbt.ref("int_feature_pairs")
    collapsed = dbt.ref("int_customer_collapsed_history")
    schema, batches = window_batches(
        session,
        daily.sql_query(),
        pairs.sql_query(),
        spec,
        chunk_customers=int(dbt.config.get("chunk_customers") or 20000),
        collapsed_sql=collapsed.sql_query(),
    )
    return pa.RecordBatchReader.from_batches(schema, batches)
