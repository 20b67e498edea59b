{{ config(materialized='table') }}
{#- The (customer, snapshot) pairs whose features this run computes: the eligible customers at
    every calendar snapshot that customer_features does not have yet, and at the as-of date
    (scoring_examples). On an incremental run that is the new week(s) only; on a first build or
    with --full-refresh, the whole calendar. Stored in customer order, so that
    int_customer_feature_windows reads it a chunk of customers at a time. customer_features is
    looked up without ref() (macros/features.sql): it is built from this model, not before it. -#}
with

calendar as (
    select * from {{ ref('int_snapshot_calendar') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

spells as (
    select * from {{ ref('int_customer_active_spells') }}
),

snapshots as (
    select snapshot_date
    from calendar
    {%- if cw_feature_history_exists() %}
    where snapshot_date > (
        select coalesce(max(snapshot_date), date '0001-01-01') from {{ cw_feature_history() }}
    )
    {%- endif %}
    union
    select as_of_date from as_of
),

final as (
    select
        spells.customer_id,
        snapshots.snapshot_date,
    from snapshots
    inner join spells
        on snapshots.snapshot_date > spells.spell_start_date
        and snapshots.snapshot_date <= spells.eligible_until_date
)

select * from final
order by customer_id, snapshot_date
