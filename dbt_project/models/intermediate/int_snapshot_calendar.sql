{{ config(materialized='table') }}
{#- The weekly snapshot dates of the history: var('snapshot_anchor_date') + k *
    var('snapshot_interval_days'), from the first date anyone could be eligible up to the day
    before the as-of date. A snapshot before the as-of date has all its data (< T) in, so it
    never changes once built; the as-of date itself is scored by scoring_examples. -#}
with

daily as (
    select * from {{ ref('int_customer_daily_activity') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

-- the first day anyone qualifies (cw_qualifying_days: a completed order or a signup), as two
-- minimums rather than one over their distinct union
first_qualifying as (
    select least(
        (select min(activity_date) from daily where completed_orders > 0),
        (select min(signup_at)::date from customers)
    ) as qualifying_date
),

bounds as (
    select
        first_qualifying.qualifying_date + 1 as first_date,
        any_value(as_of.as_of_date) - 1 as last_date,
    from first_qualifying, as_of
    group by first_qualifying.qualifying_date
),

steps as (
    select
        date '{{ var('snapshot_anchor_date') }}' as anchor_date,
        {{ var('snapshot_interval_days') }} as step,
        ceil((first_date - date '{{ var('snapshot_anchor_date') }}') / step)::bigint as first_k,
        floor((last_date - date '{{ var('snapshot_anchor_date') }}') / step)::bigint as last_k,
    from bounds
    where first_date <= last_date
),

ks as (
    select anchor_date, step, unnest(range(first_k, last_k + 1)) as k
    from steps
),

final as (
    select
        (anchor_date + (k * step)::integer)::date as snapshot_date,
    from ks
)

select * from final
