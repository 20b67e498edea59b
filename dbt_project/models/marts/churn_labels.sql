{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook="{{ cw_insert_in_hook(cw_churn_labels_select()) }}",
) }}
{#- The churn label of each customer_features row whose horizon has elapsed
    (snapshot_date + horizon <= as-of date): churned = no completed order in
    [T, T + horizon). Incremental: a run labels the snapshots that became labellable since the
    last run; a label never changes once its horizon is in the data. The query:
    cw_churn_labels_select() (macros/incremental_marts.sql), inserted by the post-hook on an
    incremental run (as customer_features does). -#}
{{ cw_churn_labels_select() }}
{%- if is_incremental() %}
limit 0
{%- endif %}
