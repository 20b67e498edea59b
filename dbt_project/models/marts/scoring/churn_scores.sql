{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['customer_id', 'as_of_date'],
        on_schema_change='fail',
        tags=['scoring'],
    )
}}

{{ require_active_model() }}

with

scoring_examples as (

    select * from {{ ref('scoring_examples') }}

),

-- one row: the model the functions were registered with (evaluated once, not per customer)
model as (

    select
        churn_model_version() as model_version,
        churn_model_thresholds() as thresholds,
        cast(current_timestamp at time zone 'UTC' as timestamp) as scored_at

),

-- one pass of the network per customer: probability and reasons together
-- (churn_score + churn_reasons would run it twice)
scored_and_explained as (

    select
        customer_id,
        as_of_date,
        churn_score_and_reasons(features) as scored,

    from scoring_examples

),

scored as (

    select
        customer_id,
        as_of_date,
        scored.churn_probability as churn_probability,
        scored.reasons as reasons,

    from scored_and_explained

),

final as (

    select
        -- ids
        cast(scored.customer_id as varchar) as customer_id,
        cast(scored.as_of_date as date) as as_of_date,

        -- score
        cast(scored.churn_probability as float) as churn_probability,
        cast(
            case
                when scored.churn_probability >= model.thresholds.high then 'high'
                when scored.churn_probability >= model.thresholds.medium then 'medium'
                else 'low'
            end as varchar
        ) as risk_tier,

        -- reasons: "<feature>=<value> (+<impact>)", largest impact first
        {% for i in range(1, 4) %}
        cast(
            case
                when len(scored.reasons) >= {{ i }}
                    then format(
                        '{}={:g} ({:+.2f})',
                        scored.reasons[{{ i }}].feature,
                        scored.reasons[{{ i }}].value,
                        scored.reasons[{{ i }}].impact
                    )
            end as varchar
        ) as reason_{{ i }},
        {% endfor %}

        -- model
        cast(model.model_version as varchar) as model_version,
        cast(model.scored_at as timestamp) as scored_at,

    from scored
    cross join model

)

select * from final
