{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook="{{ cw_insert_in_hook(cw_customer_features_select()) }}",
) }}
{#- One row per eligible customer and weekly snapshot, computed from data strictly before the
    snapshot (docs/features.md). Incremental: a run computes only the snapshots after the last
    one built (int_feature_pairs holds just those); a built snapshot never changes (all its data
    is older than the as-of date). Changing a var that shapes features or eligibility needs
    `dbt build --full-refresh`.

    The query: cw_customer_features_select() (macros/incremental_marts.sql); on an incremental
    run the post-hook inserts its rows straight into the table, not through a temporary table
    (the macros' file says why). -#}
{{ cw_customer_features_select() }}
{%- if is_incremental() %}
limit 0
{%- endif %}
