{{ config(materialized='table') }}

{#- Rows dropped as duplicates: exact copies of an earlier row, and rows superseded by a later
    row with the same key (the latest wins). Kept here so that nothing is lost. -#}
{%- set entities = cw_contract().keys() | list -%}
with

duplicates as (
    {%- for e in entities %}
    select
        '{{ e }}' as entity,
        source_file,
        source_row,
        duplicate_reason as reason,
        raw_record
    from {{ ref('stg_shop__' ~ e ~ '_checked') }}
    where disposition = 'duplicate'
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select * from duplicates
