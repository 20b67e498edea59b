{#- rows_read = rows_loaded + rows_rejected + rows_duplicate on every audit row. -#}
{% test row_conservation(model) %}
select *
from {{ model }}
where rows_read <> rows_loaded + rows_rejected + rows_duplicate
{% endtest %}

{#- A combination of columns is unique (a small stand-in for dbt_utils, which we do not install). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
