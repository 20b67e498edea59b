{#- Every feature column of var('feature_names') is present, not NULL, and finite (no NaN or
    infinity: the model input must be plain numbers). Returns the offending rows. -#}
{% test features_finite(model) %}
select *
from {{ model }}
where
    {%- for name in var('feature_names') %}
    {{ name }} is null or not isfinite({{ name }}){{ ' or' if not loop.last }}
    {%- endfor %}
{% endtest %}

{#- The `features` array has one element per feature, equal to the feature columns in order. -#}
{% test feature_array_matches(model) %}
{%- set names = var('feature_names') %}
select *
from {{ model }}
where
    features is null
    or len(features) <> {{ names | length }}
    or list_has_any(list_transform(features, lambda v: v is null or not isfinite(v)), [true])
    {%- for name in names %}
    or features[{{ loop.index }}] <> {{ name }}::float
    {%- endfor %}
{% endtest %}
