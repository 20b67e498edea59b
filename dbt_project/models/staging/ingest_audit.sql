{{ config(materialized='incremental', unique_key=['loaded_at', 'entity'], full_refresh=false,
          incremental_strategy='delete+insert') }}

{#- One row per entity and load run. rows_read = rows_loaded + rows_rejected + rows_duplicate
    always holds (a dbt test checks it). Kept across runs: the history of what each load did. -#}
{%- set entities = cw_contract().keys() | list -%}
with

load_run as (
    select loaded_at from {{ source('shop', '_ingest_run') }}
),

files as (
    select * from {{ source('shop', '_ingest_files') }}
),

malformed as (
    select entity, count(*) as lines_malformed
    from {{ source('shop', '_csv_rejects') }}
    group by entity
),

dispositions as (
    {%- for e in entities %}
    select
        '{{ e }}' as entity,
        count(*) as rows_parsed,
        count(*) filter (where disposition = 'loaded') as rows_loaded,
        count(*) filter (where disposition = 'rejected') as rows_rule_rejected,
        count(*) filter (where disposition = 'duplicate') as rows_duplicate
    from {{ ref('stg_shop__' ~ e ~ '_checked') }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

final as (
    select
        load_run.loaded_at,
        dispositions.entity,
        files.source_file,
        files.file_format,
        dispositions.rows_parsed + coalesce(malformed.lines_malformed, 0) as rows_read,
        dispositions.rows_loaded,
        dispositions.rows_rule_rejected + coalesce(malformed.lines_malformed, 0)
            as rows_rejected,
        dispositions.rows_duplicate,
        files.note
    from dispositions
    cross join load_run
    left join files on dispositions.entity = files.entity
    left join malformed on dispositions.entity = malformed.entity
)

select * from final
