{{ config(materialized='table') }}
{#- The date to score as of (one row): var('as_of_date'), or the day after the latest event
    timestamp in the data. Each source's latest timestamp is looked for only at or after the
    latest one this table held (cw_as_of_scan_from, macros/as_of.sql): exact (a later one would
    be at or after it too), and zone maps skip the older rows of a source stored in time order
    (1 M customers: the 60 M events' max took 0.8 s). When no source reaches that far any more,
    every row is read. -#}
{%- set scan_from = cw_as_of_scan_from() %}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

events as (
    select * from {{ ref('stg_shop__events') }}
),

reviews as (
    select * from {{ ref('stg_shop__reviews') }}
),

support_tickets as (
    select * from {{ ref('stg_shop__support_tickets') }}
),

email_events as (
    select * from {{ ref('stg_shop__email_events') }}
),

latest as (
    {%- for relation, column in cw_as_of_sources() %}
    select max({{ column }}) as latest_at from {{ relation }}
    {%- if scan_from is not none %} where {{ column }} >= {{ scan_from }}{% endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        {%- if var('as_of_date') %}
        date '{{ var('as_of_date') }}' as as_of_date,
        {%- else %}
        max(latest_at)::date + 1 as as_of_date,
        {%- endif %}
        max(latest_at) as latest_event_at,
    from latest
)

select * from final
