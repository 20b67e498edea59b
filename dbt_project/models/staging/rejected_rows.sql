{{ config(materialized='table') }}

{#- Every raw row that could not be used, with the reason: the rows rejected by the staging
    rules and the CSV lines DuckDB could not parse. Personal data is masked. -#}
{%- set entities = cw_contract().keys() | list -%}
with

rule_rejects as (
    {%- for e in entities %}
    select
        '{{ e }}' as entity,
        source_file,
        source_row,
        cast(null as bigint) as source_line,
        reject_reason as reason,
        raw_record
    from {{ ref('stg_shop__' ~ e ~ '_checked') }}
    where disposition = 'rejected'
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

malformed_lines as (
    select
        entity,
        source_file,
        cast(null as bigint) as source_row,
        source_line,
        'malformed_csv_line' as reason,
        json_object(
            'error', error_type,
            'csv_line',
            case
                when entity = 'customers'
                    then '(withheld: customer lines may hold personal data; see the file)'
                else csv_line
            end
        ) as raw_record
    from {{ source('shop', '_csv_rejects') }}
),

final as (
    select * from rule_rejects
    union all
    select * from malformed_lines
)

select * from final
