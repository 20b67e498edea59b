{#- The customers to score at the as-of date (eligible as in the churn definition) with their
    features from data strictly before it, as columns and as `features FLOAT[N]`. -#}
with

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

windows as (
    select * from {{ ref('int_customer_feature_windows') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

windowed as (
    select windows.*
    from windows
    inner join as_of on windows.snapshot_date = as_of.as_of_date
),

{{ cw_feature_ctes('windowed', 'customers') }}

final as (
    select
        customer_id,
        snapshot_date as as_of_date,
        {%- for name in var('feature_names') %}
        {{ name }},
        {%- endfor %}
        {{ cw_feature_array() }} as features,
    from features
)

select * from final
