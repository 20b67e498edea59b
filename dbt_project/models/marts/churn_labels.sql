{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}
{#- The churn label of each customer_features row whose horizon has elapsed
    (snapshot_date + horizon <= as-of date): churned = no completed order in
    [T, T + horizon). Incremental: a run labels the snapshots that became labellable since the
    last run; a label never changes once its horizon is in the data. -#}
with

features as (
    select * from {{ ref('customer_features') }}
),

daily as (
    select * from {{ ref('int_customer_daily_activity') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

pairs as (
    select
        features.customer_id,
        features.snapshot_date,
    from features
    cross join as_of
    where
        features.snapshot_date + {{ var('churn_horizon_days') }} <= as_of.as_of_date
        {%- if is_incremental() %}
        and features.snapshot_date > (
            select coalesce(max(snapshot_date), date '0001-01-01') from {{ this }}
        )
        {%- endif %}
),

-- only days on or after the earliest snapshot to label can be a next order (an incremental
-- run reads the last weeks, not all history)
completed_order_days as (
    select customer_id, activity_date
    from daily
    where completed_orders > 0
        and activity_date >= (select min(snapshot_date) from pairs)
),

next_orders as (
    select
        pairs.customer_id,
        pairs.snapshot_date,
        completed_order_days.activity_date as next_completed_order_date,
    from pairs
    asof left join completed_order_days
        on pairs.customer_id = completed_order_days.customer_id
        and pairs.snapshot_date <= completed_order_days.activity_date
),

final as (
    select
        customer_id,
        snapshot_date,
        coalesce(
            next_completed_order_date >= snapshot_date + {{ var('churn_horizon_days') }},
            true
        ) as is_churned,
    from next_orders
)

select * from final
