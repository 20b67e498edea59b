{{ config(materialized='view') }}
{#- Eligibility as intervals. A customer is scored at snapshot T when they have a completed order
    in [T - active, T) or signed up in it, i.e. when one of those days d satisfies
    d < T <= d + active. Days closer than `active` apart are merged into one spell, so a customer
    is eligible at T exactly when some spell has spell_start_date < T <= eligible_until_date.
    A view: only a whole calendar's int_feature_pairs reads it (an incremental run looks at the
    recent qualifying days only), so storing it would cost every run a pass over all history. -#}
with

daily as (
    select * from {{ ref('int_customer_daily_activity') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

qualifying_days as (
    {{- cw_qualifying_days('daily', 'customers') }}
),

flagged as (
    select
        customer_id,
        qualifying_date,
        coalesce(
            qualifying_date > lag(qualifying_date) over by_customer
                + {{ var('active_window_days') }},
            true
        )::integer as starts_spell,
    from qualifying_days
    window by_customer as (partition by customer_id order by qualifying_date)
),

numbered as (
    select
        *,
        sum(starts_spell) over (
            partition by customer_id
            order by qualifying_date
            rows between unbounded preceding and current row
        ) as spell_number,
    from flagged
),

final as (
    select
        customer_id,
        spell_number,
        min(qualifying_date) as spell_start_date,
        max(qualifying_date) + {{ var('active_window_days') }} as eligible_until_date,
    from numbered
    group by customer_id, spell_number
)

select * from final
