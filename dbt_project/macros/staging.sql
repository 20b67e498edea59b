{#- Staging: type, clean, reject and de-duplicate one raw entity (docs/interfaces.md has the
    rules in order). The result keeps every raw row with its disposition ('loaded', 'rejected',
    'duplicate'), so nothing is lost: stg_shop__<entity> reads the loaded rows,
    rejected_rows and duplicate_rows the others. -#}

{% macro cw_raw_types(relation) %}
    {%- set types = {} -%}
    {%- if execute -%}
        {%- for col in adapter.get_columns_in_relation(relation) -%}
            {%- do types.update({col.name | lower: col.dtype | lower}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(types) }}
{% endmacro %}

{#- The value as text: NULL when missing or blank. -#}
{% macro cw_text(raw) -%}
    nullif(trim(cast({{ raw }} as varchar)), '')
{%- endmacro %}

{% macro cw_present(col, raw_type) -%}
    {%- set raw = '_raw_' ~ col.name -%}
    {%- if raw_type in ('varchar', '') -%}
        ({{ cw_text(raw) }} is not null)
    {%- else -%}
        ({{ raw }} is not null)
    {%- endif -%}
{%- endmacro %}

{% macro cw_typed(col, raw_type) -%}
    {%- set raw = '_raw_' ~ col.name -%}
    {%- if col.type == 'varchar' and col.get('cat') -%}
        lower(regexp_replace({{ cw_text(raw) }}, '\s+', ' ', 'g'))
    {%- elif col.type == 'varchar' -%}
        {{ cw_text(raw) }}
    {%- elif col.type == 'timestamp' and raw_type in ('varchar', '') -%}
        {#- A UTC offset needs the (slower) timestamptz parse; 'Z' and no offset do not. The
            two LIKEs (a '+' or '-' from the 11th character on) are a cheap pre-filter: the
            regular expression then runs only on values that may carry an offset. -#}
        case
            when (
                {{ cw_text(raw) }} like '__________%+%'
                or {{ cw_text(raw) }} like '__________%-%'
            )
            and regexp_matches(substr({{ cw_text(raw) }}, 11), '[+-][0-9]')
                then timezone('UTC', try_cast({{ cw_text(raw) }} as timestamptz))
            else try_cast({{ cw_text(raw) }} as timestamp)
        end
    {%- elif col.type == 'timestamp' and 'with time zone' in raw_type -%}
        timezone('UTC', {{ raw }})
    {%- elif col.type == 'timestamp' -%}
        try_cast({{ raw }} as timestamp)
    {%- elif raw_type in ('varchar', '') -%}
        try_cast({{ cw_text(raw) }} as {{ col.type }})
    {%- else -%}
        try_cast({{ raw }} as {{ col.type }})
    {%- endif -%}
{%- endmacro %}

{% macro cw_checked(entity, orphan_orders=none) %}
{%- set spec = cw_contract()[entity] -%}
{%- set src = source('shop', entity) -%}
{%- set raw_types = cw_raw_types(src) -%}
{%- set cols = spec['columns'] -%}
with

source as (
    select
        _source_file,
        _source_row,
        {%- for c in cols %}
        {{ c.name }} as _raw_{{ c.name }},
        {%- endfor %}
    from {{ src }}
),

load_run as (
    select loaded_at from {{ source('shop', '_ingest_run') }}
),

typed as (
    select
        source.*,
        {%- for c in cols %}
        {{ cw_present(c, raw_types.get(c.name, '')) }} as _has_{{ c.name }},
        {{ cw_typed(c, raw_types.get(c.name, '')) }} as {{ c.name }},
        {%- endfor %}
    from source
),

{% if orphan_orders is not none %}
loaded_orders as (
    select distinct order_id as _order_id from {{ orphan_orders }}
),
{% endif %}

checked as (
    select
        typed.*,
        case
            {%- for c in cols if c.get('required') %}
            when not _has_{{ c.name }} then 'missing_{{ c.name }}'
            {%- endfor %}
            {%- for c in cols if c.type != 'varchar' %}
            when _has_{{ c.name }} and {{ c.name }} is null then 'unparseable_{{ c.name }}'
            {%- endfor %}
            {%- for name in spec['non_negative'] %}
            when {{ name }} < 0 then 'negative_{{ name }}'
            {%- endfor %}
            {%- for name in spec['one_to_five'] %}
            when {{ name }} not between 1 and 5 then 'out_of_range_{{ name }}'
            {%- endfor %}
            {%- if spec['event_time'] %}
            when {{ spec['event_time'] }} > (select loaded_at from load_run)
                then 'future_{{ spec['event_time'] }}'
            {%- endif %}
            {%- for name, values in spec['enums'].items() %}
            when {{ name }} not in ('{{ values | join("', '") }}')
                then 'unknown_{{ name }}'
            {%- endfor %}
            {%- if orphan_orders is not none %}
            when loaded_orders._order_id is null then 'orphan_order_item'
            {%- endif %}
        end as reject_reason
    from typed
    {%- if orphan_orders is not none %}
    left join loaded_orders on typed.order_id = loaded_orders._order_id
    {%- endif %}
),

{#- Duplicates: rows are grouped by a hash of their values first (cheap), and only rows
    whose hash repeats are compared column by column, so a hash collision can never merge two
    different rows. -#}
hashed as materialized (
    select
        *,
        hash({% for c in cols %}{{ c.name }}{{ ", " if not loop.last }}{% endfor %}) as _row_hash
    from checked
),

repeated_hashes as (
    select _row_hash
    from hashed
    where reject_reason is null
    group by _row_hash
    having count(*) > 1
),

exact_ranks as (
    select
        _source_row,
        row_number() over (
            partition by
                {%- for c in cols %}
                {{ c.name }}{{ "," if not loop.last }}
                {%- endfor %}
            order by _source_row
        ) as _exact_rank
    from hashed
    where reject_reason is null
        and _row_hash in (select _row_hash from repeated_hashes)
),

{% if spec['key'] %}
{%- set key = spec['key'] | join(', ') %}
unique_rows as (
    select hashed.*
    from hashed
    left join exact_ranks using (_source_row)
    where hashed.reject_reason is null and coalesce(exact_ranks._exact_rank, 1) = 1
),

repeated_key_values as (
    select {{ key }}
    from unique_rows
    group by {{ key }}
    having count(*) > 1
),

key_ranks as (
    select
        _source_row,
        row_number() over (partition by {{ key }} order by _source_row desc) as _key_rank
    from unique_rows
    semi join repeated_key_values using ({{ key }})
),
{% else %}
key_ranks as (
    select cast(null as bigint) as _source_row, cast(null as bigint) as _key_rank
    limit 0
),
{% endif %}

repeated_keys as (
    select
        hashed.*,
        coalesce(exact_ranks._exact_rank, 1) as _exact_rank,
        coalesce(key_ranks._key_rank, 1) as _key_rank
    from hashed
    left join exact_ranks using (_source_row)
    left join key_ranks using (_source_row)
),

final as (
    select
        -- lineage
        _source_file as source_file,
        _source_row as source_row,
        -- typed contract columns
        {%- for c in cols %}
        {{ c.name }},
        {%- endfor %}
        -- disposition
        case
            when reject_reason is not null then 'rejected'
            when _exact_rank > 1 or _key_rank > 1 then 'duplicate'
            else 'loaded'
        end as disposition,
        reject_reason,
        case
            when reject_reason is not null then null
            when _exact_rank > 1 then 'duplicate'
            when _key_rank > 1 then 'superseded'
        end as duplicate_reason,
        case when reject_reason is not null or _exact_rank > 1 or _key_rank > 1 then
            json_object(
                {%- for c in cols %}
                '{{ c.name }}',
                {%- if c.get('pii') %}
                case when _raw_{{ c.name }} is null then null else '***' end
                {%- else %}
                _raw_{{ c.name }}
                {%- endif %}
                {{- "," if not loop.last }}
                {%- endfor %}
            )
        end as raw_record
    from repeated_keys
)

select * from final
{% endmacro %}

{#- The loaded rows of a checked entity, contract columns only. -#}
{% macro cw_loaded(entity, checked_relation) %}
{%- set spec = cw_contract()[entity] -%}
select
    {%- for c in spec['columns'] %}
    {{ c.name }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ checked_relation }}
where disposition = 'loaded'
{% endmacro %}
