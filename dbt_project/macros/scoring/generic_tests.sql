{# Rows whose combination of `columns` is not unique (no dbt_utils dependency). #}
{% test churnwatch_unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{# Rows where `column_name` is outside [min_value, max_value] or NaN. #}
{% test churnwatch_between(model, column_name, min_value, max_value) %}
    select *
    from {{ model }}
    where not ({{ column_name }} >= {{ min_value }} and {{ column_name }} <= {{ max_value }})
{% endtest %}
