{#- The ordered feature list (1-based positions), from var('feature_names'). -#}
{%- set names = var('feature_names') %}
with

final as (
    select
        unnest(range(1, {{ names | length + 1 }}))::integer as position,
        unnest([
            {%- for name in names %}
            '{{ name }}'{{ ',' if not loop.last }}
            {%- endfor %}
        ]) as feature_name,
)

select * from final
