{{ config(materialized='table') }}
{#- Every customer the shop knows, without personal data: the customers file where it has the
    customer, else derived from orders (signup_at = first order). A missing signup_at is filled
    with the first order too. -#}
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

first_orders as (
    select customer_id, min(ordered_at) as first_ordered_at
    from orders
    group by customer_id
),

final as (
    select
        -- ids
        coalesce(customers.customer_id, first_orders.customer_id) as customer_id,
        -- timestamps
        coalesce(customers.signup_at, first_orders.first_ordered_at) as signup_at,
        first_orders.first_ordered_at,
        -- attributes (no personal data past staging)
        customers.gender,
        customers.birth_year,
        customers.country,
        customers.acquisition_channel,
        customers.customer_id is null as is_derived_from_orders
    from customers
    full outer join first_orders on customers.customer_id = first_orders.customer_id
)

select * from final
