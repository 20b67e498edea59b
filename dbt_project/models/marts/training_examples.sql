{{ config(materialized='view') }}
{#- Features and label of every labelled (customer, snapshot): the training set. A view, not a
    table: it would copy the whole feature history (tens of millions of rows at scale) on every
    run; it reads the two incremental tables instead. -#}
with

features as (
    select * from {{ ref('customer_features') }}
),

labels as (
    select * from {{ ref('churn_labels') }}
),

final as (
    select
        features.customer_id,
        features.snapshot_date,
        {%- for name in var('feature_names') %}
        features.{{ name }},
        {%- endfor %}
        {{ cw_feature_array('features') }} as features,
        labels.is_churned,
    from features
    inner join labels
        on features.customer_id = labels.customer_id
        and features.snapshot_date = labels.snapshot_date
)

select * from final
