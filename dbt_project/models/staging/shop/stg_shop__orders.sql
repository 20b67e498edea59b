with

loaded as (
    {{ cw_loaded('orders', ref('stg_shop__orders_checked')) }}
),

final as (
    select
        * replace (coalesce(status, 'completed') as status)
    from loaded
)

select * from final
