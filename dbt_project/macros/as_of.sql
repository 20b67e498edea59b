{#- The sources int_as_of_date takes the latest timestamp of: (CTE name, timestamp column). -#}
{% macro cw_as_of_sources() %}
    {{ return([
        ('orders', 'ordered_at'), ('customers', 'signup_at'), ('events', 'occurred_at'),
        ('reviews', 'created_at'), ('support_tickets', 'created_at'),
        ('email_events', 'occurred_at'),
    ]) }}
{% endmacro %}

{#- A timestamp literal from which int_as_of_date looks for each source's latest timestamp, or
    none to read every row. From the latest_event_at its table holds from the last run, this
    finds the latest timestamp at or after it (zone maps skip the older rows of a source stored
    in time order); when there is one, it is the latest of all rows, whatever changed in between
    (rows added, replaced or removed: a later one would be at or after it too), and the model
    reads from it. A dbt unit test of the model would override this macro to return none. -#}
{% macro cw_as_of_scan_from() %}
    {%- if not execute %}{{ return(none) }}{% endif %}
    {%- set existing = adapter.get_relation(
        database=this.database, schema=this.schema, identifier=this.identifier) %}
    {%- if existing is none %}{{ return(none) }}{% endif %}
    {%- set previous = run_query(
        'select max(latest_event_at)::varchar from ' ~ existing).columns[0].values()[0] %}
    {%- if previous is none %}{{ return(none) }}{% endif %}
    {%- set sources = {
        'orders': ref('stg_shop__orders'), 'customers': ref('stg_shop__customers'),
        'events': ref('stg_shop__events'), 'reviews': ref('stg_shop__reviews'),
        'support_tickets': ref('stg_shop__support_tickets'),
        'email_events': ref('stg_shop__email_events'),
    } %}
    {%- set maxes = [] %}
    {%- for name, column in cw_as_of_sources() %}
        {%- do maxes.append('select max(' ~ column ~ ') as t from ' ~ sources[name] ~ ' where '
            ~ column ~ " >= timestamp '" ~ previous ~ "'") %}
    {%- endfor %}
    {%- set latest = run_query(
        'select max(t)::varchar from (' ~ maxes | join(' union all ') ~ ')'
    ).columns[0].values()[0] %}
    {{ return(none if latest is none else "timestamp '" ~ latest ~ "'") }}
{% endmacro %}
