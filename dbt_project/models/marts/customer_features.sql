{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}
{#- One row per eligible customer and weekly snapshot, computed from data strictly before the
    snapshot (docs/features.md). Incremental: a run computes only the snapshots after the last
    one built; a built snapshot never changes (all its data is older than the as-of date).
    Changing a var that shapes features or eligibility needs `dbt build --full-refresh`. -#}
with

calendar as (
    select * from {{ ref('int_snapshot_calendar') }}
),

spells as (
    select * from {{ ref('int_customer_active_spells') }}
),

activity as not materialized (
    select * from {{ ref('int_customer_activity_cumulative') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

new_snapshots as (
    select snapshot_date
    from calendar
    {%- if is_incremental() %}
    where snapshot_date > (
        select coalesce(max(snapshot_date), date '0001-01-01') from {{ this }}
    )
    {%- endif %}
),

pairs as (
    select
        spells.customer_id,
        new_snapshots.snapshot_date,
    from new_snapshots
    inner join spells
        on new_snapshots.snapshot_date > spells.spell_start_date
        and new_snapshots.snapshot_date <= spells.eligible_until_date
),

{{ cw_feature_ctes('pairs', 'activity', 'customers') }}

final as (
    select * from features
)

select * from final
