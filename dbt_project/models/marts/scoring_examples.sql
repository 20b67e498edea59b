{#- The customers to score at the as-of date (eligible as in the churn definition) with their
    features from data strictly before it, as columns and as `features FLOAT[N]`. -#}
with

as_of as (
    select * from {{ ref('int_as_of_date') }}
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

pairs as (
    select
        spells.customer_id,
        as_of.as_of_date as snapshot_date,
    from as_of
    inner join spells
        on as_of.as_of_date > spells.spell_start_date
        and as_of.as_of_date <= spells.eligible_until_date
),

{{ cw_feature_ctes('pairs', 'activity', 'customers') }}

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
