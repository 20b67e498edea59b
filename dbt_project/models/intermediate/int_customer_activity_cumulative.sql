{{ config(materialized='table') }}
{#- Running totals of int_customer_daily_activity per customer: the row dated d holds everything
    known up to and including day d. The total before snapshot T is the last row dated before T
    (an ASOF join), and a window [T - w, T) is that minus the total before T - w. -#}
with

daily as (
    select * from {{ ref('int_customer_daily_activity') }}
),

final as (
    select
        -- grain
        customer_id,
        activity_date,
        -- running totals
        {%- for m in cw_activity_measures() %}
        sum({{ m }}) over running as cum_{{ m }},
        {%- endfor %}
        -- last days seen
        max(case when purchases > 0 then activity_date end) over running as last_purchase_date,
        max(case when sessions > 0 then activity_date end) over running as last_session_date,
        max(case when reviews > 0 then activity_date end) over running as last_review_date,
        max(case when tickets > 0 then activity_date end) over running as last_ticket_date,
    from daily
    window running as (
        partition by customer_id
        order by activity_date
        rows between unbounded preceding and current row
    )
)

select * from final
