{#- dbt's test `where` config, plus two placeholders: `__first_snapshot_built__` becomes the
    earliest snapshot of this run's int_feature_pairs as a date literal (0001-01-01 when it has
    none: test everything), `__as_of_date__` the as-of date (9999-12-31 when unknown). The
    tests of the incremental marts use them to check only the snapshots this run built
    (_marts__models.yml); a literal, unlike a subquery, lets DuckDB skip the older
    row groups and evaluate the training_examples view for the new rows only. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') %}
    {%- if where %}
        {%- if '__first_snapshot_built__' in where %}
            {%- set first = cw_date_literal(
                'int_feature_pairs', 'min(snapshot_date)', "date '0001-01-01'") %}
            {%- set where = where | replace('__first_snapshot_built__', first) %}
        {%- endif %}
        {%- if '__as_of_date__' in where %}
            {%- set as_of = cw_date_literal(
                'int_as_of_date', 'max(as_of_date)', "date '9999-12-31'") %}
            {%- set where = where | replace('__as_of_date__', as_of) %}
        {%- endif %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

{#- A date literal from one row of an intermediate table: `aggregate` over `identifier`, or
    `default` (a date literal) when the table is missing, empty, or not yet known (parsing). -#}
{% macro cw_date_literal(identifier, aggregate, default) %}
    {%- if not execute %}
        {{ return(default) }}
    {%- endif %}
    {%- set relation = adapter.get_relation(
        database=target.database, schema='intermediate', identifier=identifier) %}
    {%- if relation is none %}
        {{ return(default) }}
    {%- endif %}
    {%- set found = run_query(
        "select coalesce(" ~ aggregate ~ ", " ~ default ~ ")::varchar from " ~ relation) %}
    {{ return("date '" ~ found.columns[0].values()[0] ~ "'") }}
{% endmacro %}
