{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook="{{ cw_insert_customer_features() }}",
) }}
{#- One row per eligible customer and weekly snapshot, computed from data strictly before the
    snapshot (docs/features.md). Incremental: a run computes only the snapshots after the last
    one built (int_feature_pairs holds just those); a built snapshot never changes (all its data
    is older than the as-of date). Changing a var that shapes features or eligibility needs
    `dbt build --full-refresh`.

    The query: cw_customer_features_select() (macros/customer_features.sql). An incremental run
    inserts its rows straight into the table from the post-hook cw_insert_customer_features()
    (inside the model's transaction); this statement then gives dbt only the columns, no rows.
    dbt's append would write the new rows into a temporary table first and copy them from there
    (at 1 M customers, one week: 2.4-3.6 s against 2.0 s inserted directly). -#}
{{ cw_customer_features_select() }}
{%- if is_incremental() %}
limit 0
{%- endif %}
