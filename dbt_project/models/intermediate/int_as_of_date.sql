{{ config(materialized='table') }}
{#- The date to score as of (one row): var('as_of_date'), or the day after the latest event
    timestamp in the data. -#}
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
    select max(ordered_at) as latest_at from orders
    union all
    select max(signup_at) from customers
    union all
    select max(occurred_at) from events
    union all
    select max(created_at) from reviews
    union all
    select max(created_at) from support_tickets
    union all
    select max(occurred_at) from email_events
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
