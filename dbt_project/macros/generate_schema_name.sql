{#- Use the folder's schema name as it is (staging, intermediate), and the profile's schema
    (main) for marts, instead of dbt's default "<target>_<custom>" names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
