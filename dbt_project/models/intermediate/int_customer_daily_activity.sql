{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook="{{ cw_fill_daily_activity() }}",
) }}
{#- One row per customer and day on which something about the customer became known: every
    fact is dated by the day it could first have been seen (an order by ordered_at, a delivery
    by delivered_at, a ticket's satisfaction by resolved_at), so "known before snapshot T" is
    simply `activity_date < T`. Two-timestamp states (open tickets, overdue deliveries) are
    stored as +1 / -1 deltas whose running sum is the state. Measures: cw_activity_measures();
    the query: cw_daily_activity_select() in macros/daily_activity.sql.

    Built in customer ranges so that memory stays bounded at any shop size: this statement only
    creates the table (no rows; it fixes the schema), and the post-hook cw_fill_daily_activity()
    inserts one customer range after the other (var daily_activity_part_rows: source rows per range).
    Incremental: the hook first deletes and then recomputes the days from
    cw_daily_rebuild_from() on (the last day with an order or session in the table: every
    earlier day was complete when it was built, as the data is append-only history); gaps and
    first categories still look at the whole history. -#}
{%- if cw_daily_activity_rows_in_hook() %}
select * from ({{ cw_daily_activity_select(none, ('', '')) }}) limit 0
{%- else %}
{#- dbt unit tests (which override the macro above) see the whole query here -#}
{{ cw_daily_activity_select(none, none) }}
{%- endif %}
