{#- dbt's test `where` config, plus two placeholders: `__first_snapshot_built__` becomes the
    earliest snapshot of this run's int_feature_pairs as a date literal (0001-01-01 when it has
    none: test everything), `__as_of_date__` the as-of date (9999-12-31 when unknown). The tests of the incremental marts use it to check only the snapshots
    this run built (_marts__models.yml); a literal, unlike a subquery, lets DuckDB skip the older
    row groups and evaluate the training_examples view for the new rows only. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') %}
    {%- if where %}
        {%- if '__first_snapshot_built__' in where %}
            {%- set where = where | replace('__first_snapshot_built__', cw_first_snapshot_built()) %}
        {%- endif %}
        {%- if '__as_of_date__' in where %}
            {%- set where = where | replace('__as_of_date__', cw_as_of_date_literal()) %}
        {%- endif %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

{% macro cw_first_snapshot_built() %}
    {%- if not execute %}
        {{ return("date '0001-01-01'") }}
    {%- endif %}
    {%- set pairs = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='int_feature_pairs') %}
    {%- if pairs is none %}
        {{ return("date '0001-01-01'") }}
    {%- endif %}
    {%- set found = run_query(
        "select coalesce(min(snapshot_date), date '0001-01-01')::varchar from " ~ pairs) %}
    {{ return("date '" ~ found.columns[0].values()[0] ~ "'") }}
{% endmacro %}

{% macro cw_as_of_date_literal() %}
    {%- if not execute %}
        {{ return("date '9999-12-31'") }}
    {%- endif %}
    {%- set as_of = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='int_as_of_date') %}
    {%- if as_of is none %}
        {{ return("date '9999-12-31'") }}
    {%- endif %}
    {%- set found = run_query(
        "select coalesce(max(as_of_date), date '9999-12-31')::varchar from " ~ as_of) %}
    {{ return("date '" ~ found.columns[0].values()[0] ~ "'") }}
{% endmacro %}
