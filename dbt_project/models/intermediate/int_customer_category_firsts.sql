{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ cw_delete_recomputed_category_firsts() }}",
) }}
{#- The day each customer first bought each category (an order not cancelled; items without a
    category do not count): int_customer_daily_activity sums these per day into new_categories.
    Incremental: the pre-hook deletes the first days on or after the day the daily activity
    recomputes from (cw_daily_rebuild_from, read from its table as the last run left it); this
    run adds the pairs first bought from that day on that the table does not have yet. -#}
{%- set since = cw_category_firsts_since() %}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
    where status <> 'cancelled'
    {%- if since is not none %}
        and ordered_at >= {{ since }}
    {%- endif %}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

purchased as (
    select
        orders.customer_id,
        order_items.category,
        min(orders.ordered_at)::date as first_date,
    from order_items
    inner join orders on order_items.order_id = orders.order_id
    where order_items.category is not null
    group by all
),

final as (
    select * from purchased
    {%- if is_incremental() %}
    -- bought before `since`: already in the table with its (earlier) first day
    anti join (select customer_id, category from {{ this }}) as known
        using (customer_id, category)
    {%- endif %}
)

select * from final
order by customer_id, first_date
