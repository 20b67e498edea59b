{#- customer_features (models/marts/customer_features.sql): the query of its rows, and the
    post-hook that inserts them on an incremental run. -#}

{#- The rows customer_features adds in this run: the whole calendar on a first build or with
    --full-refresh, else the snapshots after the last one in the table. -#}
{% macro cw_customer_features_select() %}
with

calendar as (
    select * from {{ ref('int_snapshot_calendar') }}
),

windows as (
    select * from {{ ref('int_customer_feature_windows') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

new_snapshots as (
    select snapshot_date
    from calendar
    {%- if is_incremental() %}
    where snapshot_date > (
        select coalesce(max(snapshot_date), date '0001-01-01') from {{ this }}
    )
    {%- endif %}
),

{%- if not is_incremental() %}
-- a (re)build needs the windows of the whole calendar: int_feature_pairs has only the snapshots
-- customer_features lacked when it was built, unless it was rebuilt with --full-refresh too
covered as (
    select
        case
            when (select min(snapshot_date) from calendar) is null then true
            when exists (
                select 1 from windows
                where snapshot_date = (select min(snapshot_date) from calendar)
            ) then true
            else error('customer_features: int_customer_feature_windows lacks the earlier '
                || 'snapshots; rebuild them together: '
                || 'dbt build --full-refresh --select +customer_features')
        end as is_covered,
),
{%- endif %}

windowed as (
    select windows.*
    from windows
    inner join new_snapshots on windows.snapshot_date = new_snapshots.snapshot_date
    {%- if not is_incremental() %}
    where (select is_covered from covered)
    {%- endif %}
),

{{ cw_feature_ctes('windowed', 'customers') }}

final as (
    select * from features
)

select * from final
{% endmacro %}

{#- The post-hook of customer_features: on an incremental run the model's own statement adds no
    rows; this inserts them (in the table's column order: the table was created from the same
    query, and on_schema_change='fail' checks that it still matches). -#}
{% macro cw_insert_customer_features() %}
    {%- if not execute or not is_incremental() %}{{ return('') }}{% endif %}
    {%- do run_query('insert into ' ~ this ~ ' ' ~ cw_customer_features_select()) %}
    {{ return('') }}
{% endmacro %}
