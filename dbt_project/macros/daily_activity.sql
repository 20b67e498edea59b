{#- int_customer_daily_activity, built in customer ranges ("parts") so that the wide daily
    aggregate stays within DuckDB's memory_limit at any shop size: the model itself only creates
    the (empty) table; its post-hook cw_fill_daily_activity() deletes the days an incremental run
    recomputes and inserts one part after the other, each in (customer, day) order, so the table
    ends up in customer order (int_customer_feature_windows reads it a range of customers at a
    time and relies on zone maps). -#}

{#- True: the model's own statement creates the empty table and its post-hook fills it. The
    dbt unit test of the model overrides this to false to see the query's rows directly. -#}
{% macro cw_daily_activity_rows_in_hook() %}
    {{ return(true) }}
{% endmacro %}

{#- ` and <col> >= '<lo>' and <col> < '<hi>'` for part = (lo, hi) (either may be none: open
    end), or nothing for part none (the whole table). -#}
{% macro cw_in_part(col, part) -%}
    {%- if part is not none %}
        {%- if part[0] is not none %} and {{ col }} >= {{ cw_sql_string(part[0]) }}{% endif %}
        {%- if part[1] is not none %} and {{ col }} < {{ cw_sql_string(part[1]) }}{% endif %}
    {%- endif -%}
{%- endmacro %}

{% macro cw_sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{#- The customer ranges of one build: enough parts that each aggregates at most
    var('daily_activity_part_rows') source rows, split at quantiles of the orders' customer ids
    (rows follow orders). An incremental run counts only the source rows it recomputes (usually
    one part; its order items estimated). -#}
{% macro cw_daily_activity_parts(since) %}
    {%- set part_rows = var('daily_activity_part_rows') | int %}
    {%- set counted = [
        ('stg_shop__orders', 'ordered_at'), ('stg_shop__order_items', none),
        ('stg_shop__events', 'occurred_at'), ('stg_shop__reviews', 'created_at'),
        ('stg_shop__support_tickets', 'created_at'), ('stg_shop__email_events', 'occurred_at'),
    ] %}
    {%- set counts = [] %}
    {%- for model, ts in counted %}
        {%- if since is none %}
            {%- do counts.append('(select count(*) from ' ~ ref(model) ~ ')') %}
        {%- elif ts is none %}
            {#- items have no time of their own: estimated from the recomputed days' orders at
                the average items per order (counting them exactly means a join over all items,
                and this only sizes the ranges) #}
            {%- do counts.append('((select count(*) from ' ~ ref(model) ~ ') * (select count(*) from '
                ~ ref('stg_shop__orders') ~ ' where ordered_at >= ' ~ since
                ~ ') // greatest((select count(*) from ' ~ ref('stg_shop__orders') ~ '), 1))') %}
        {%- else %}
            {%- do counts.append('(select count(*) from ' ~ ref(model) ~ ' where ' ~ ts
                ~ ' >= ' ~ since ~ ')') %}
        {%- endif %}
    {%- endfor %}
    {%- set rows = run_query('select (' ~ counts | join(' + ') ~ ')::bigint').columns[0].values()[0] %}
    {%- set n = ((rows + part_rows - 1) // part_rows) | int %}
    {%- if n <= 1 %}
        {{ return([none]) }}
    {%- endif %}
    {%- set fractions = [] %}
    {%- for k in range(1, n) %}{% do fractions.append((k / n) | string) %}{% endfor %}
    {%- set cuts = run_query(
        'select distinct cut from (select unnest(quantile_disc(customer_id, ['
        ~ fractions | join(', ') ~ '])) as cut from ' ~ ref('stg_shop__orders')
        ~ ') where cut is not null order by cut'
    ).columns[0].values() %}
    {%- set parts = [] %}
    {%- set lo = namespace(value=none) %}
    {%- for cut in cuts %}
        {%- do parts.append((lo.value, cut)) %}
        {%- set lo.value = cut %}
    {%- endfor %}
    {%- do parts.append((lo.value, none)) %}
    {{ return(parts) }}
{% endmacro %}

{#- The post-hook of int_customer_daily_activity: fills the table part by part. An incremental
    run first deletes the days from cw_daily_rebuild_from() on (read once, before the delete). -#}
{% macro cw_fill_daily_activity() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set since = cw_daily_rebuild_from() if is_incremental() else none %}
    {%- if since is not none %}
        {%- do run_query('delete from ' ~ this ~ ' where activity_date >= ' ~ since) %}
    {%- endif %}
    {%- set parts = cw_daily_activity_parts(since) %}
    {%- for part in parts %}
        {%- do log('int_customer_daily_activity: part ' ~ loop.index ~ ' of ' ~ parts | length
            ~ (' (customers ' ~ part[0] ~ ' .. ' ~ part[1] ~ ')' if part is not none else ''),
            info=parts | length > 1) %}
        {%- do run_query('insert into ' ~ this ~ ' '
            ~ cw_daily_activity_select(since, part)) %}
    {%- endfor %}
    {{ return('') }}
{% endmacro %}

{#- The rows of int_customer_daily_activity for the customers in `part`, from day `since` on
    (a date literal; none = all history). See the model for what each measure means. -#}
{% macro cw_daily_activity_select(since, part) %}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
    where true {{ cw_in_part('customer_id', part) }}
    {%- if since is not none %}
        -- an incremental run needs only the orders placed, delivered or due on the recomputed
        -- days
        and (ordered_at >= {{ since }} or delivered_at >= {{ since }}
            or promised_delivery_at >= {{ since }})
    {%- endif %}
),

-- items reach their customer through their order (filtered above)
order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

events as (
    select * from {{ ref('stg_shop__events') }}
    where true {{ cw_in_part('customer_id', part) }}
),

reviews as (
    select * from {{ ref('stg_shop__reviews') }}
    where true {{ cw_in_part('customer_id', part) }}
),

support_tickets as (
    select * from {{ ref('stg_shop__support_tickets') }}
    where true {{ cw_in_part('customer_id', part) }}
),

email_events as (
    select * from {{ ref('stg_shop__email_events') }}
    where true {{ cw_in_part('customer_id', part) }}
),

-- orders: a purchase is an order that was not cancelled (completed or later returned: the
-- return is a later status change, unknown at the order's time); the churn definition itself
-- uses completed orders only (completed_orders).
order_days as (
    select
        customer_id,
        ordered_at::date as activity_date,
        count(*) filter (where status = 'completed') as completed_orders,
        count(*) filter (where status <> 'cancelled') as purchases,
        coalesce(sum(amount) filter (where status <> 'cancelled'), 0) as spend,
        coalesce(sum(discount_amount) filter (where status <> 'cancelled'), 0) as discount,
        count(*) filter (where status <> 'cancelled' and coupon_code is not null) as coupon_orders,
        count(*) as orders_placed,
        count(*) filter (where status = 'cancelled') as cancelled_orders,
        count(*) filter (where status = 'returned') as returned_orders,
        1 as active_days,
    from orders
    where true {{ cw_on_or_after('ordered_at', since) }}
    group by all
),

purchase_days as (
    select customer_id, activity_date
    from order_days
    where purchases > 0
    {%- if since is not none %}
    -- the purchase day before the rebuilt days, for the first gap (of those who bought again)
    union all
    select customer_id, max(activity_date)
    from {{ this }}
    where purchases > 0 and activity_date < {{ since }} {{ cw_in_part('customer_id', part) }}
        and customer_id in (select customer_id from order_days where purchases > 0)
    group by customer_id
    {%- endif %}
),

purchase_gaps as (
    select
        customer_id,
        activity_date,
        activity_date - lag(activity_date) over (
            partition by customer_id order by activity_date
        ) as gap_days,
    from purchase_days
),

gap_days as (
    select
        customer_id,
        activity_date,
        gap_days as gap_days_sum,
        gap_days * gap_days as gap_days_sq_sum,
        1 as gaps,
    from purchase_gaps
    where gap_days is not null {{ cw_on_or_after('activity_date', since) }}
),

purchased_items as (
    select
        orders.customer_id,
        orders.ordered_at::date as activity_date,
        order_items.quantity,
        order_items.category,
    from order_items
    inner join orders on order_items.order_id = orders.order_id
    where orders.status <> 'cancelled'
),

item_days as (
    select
        customer_id,
        activity_date,
        sum(quantity) as items,
    from purchased_items
    where true {{ cw_on_or_after('activity_date', since) }}
    group by all
),

-- the day a customer first bought a category: summing these gives distinct categories so far
category_days as (
    select
        customer_id,
        first_date as activity_date,
        count(*) as new_categories,
    from {{ ref('int_customer_category_firsts') }}
    where true {{ cw_in_part('customer_id', part) }} {{ cw_on_or_after('first_date', since) }}
    group by all
),

-- deliveries are known on the day they happen, never earlier
delivery_days as (
    select
        customer_id,
        delivered_at::date as activity_date,
        count(*) as deliveries,
        count(*) filter (where delivered_at > promised_delivery_at) as late_deliveries,
    from orders
    where delivered_at is not null and status <> 'cancelled'
        {{- cw_on_or_after('delivered_at', since) }}
    group by all
),

-- an overdue delivery is open from the promised day until the day it is delivered
overdue_deltas as (
    select
        customer_id,
        promised_delivery_at::date as activity_date,
        1 as overdue_delivery_delta,
    from orders
    where
        promised_delivery_at is not null
        and status <> 'cancelled'
        and (delivered_at is null or delivered_at > promised_delivery_at)
        {{- cw_on_or_after('promised_delivery_at', since) }}
    union all
    select
        customer_id,
        delivered_at::date as activity_date,
        -1 as overdue_delivery_delta,
    from orders
    where
        promised_delivery_at is not null
        and status <> 'cancelled'
        and delivered_at > promised_delivery_at
        {{- cw_on_or_after('delivered_at', since) }}
),

-- events: a session is a session_id on one day (events without one: one session per day)
event_sessions as (
    select
        customer_id,
        occurred_at::date as activity_date,
        coalesce(session_id, '') as session_key,
        coalesce(sum(duration_seconds), 0) as browse_seconds,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'product_view') as product_views,
        bool_or(event_type = 'add_to_cart') as has_cart,
        bool_or(event_type = 'checkout') as has_checkout,
    from events
    where true {{ cw_on_or_after('occurred_at', since) }}
    group by all
),

session_days as (
    select
        customer_id,
        activity_date,
        count(*) as sessions,
        sum(browse_seconds) as browse_seconds,
        sum(searches) as searches,
        sum(product_views) as product_views,
        count(*) filter (where has_cart) as cart_sessions,
        count(*) filter (where has_cart and not has_checkout) as abandoned_cart_sessions,
        1 as active_days,
    from event_sessions
    group by all
),

review_days as (
    select
        customer_id,
        created_at::date as activity_date,
        count(*) as reviews,
        sum(rating) as rating_sum,
        count(*) filter (where rating <= 2) as low_ratings,
    from reviews
    where true {{ cw_on_or_after('created_at', since) }}
    group by all
),

-- a ticket is open from the day it is created until the day it is resolved; its satisfaction
-- is known once it is resolved
ticket_days as (
    select
        customer_id,
        created_at::date as activity_date,
        count(*) as tickets,
        count(*) as open_ticket_delta,
    from support_tickets
    where true {{ cw_on_or_after('created_at', since) }}
    group by all
),

ticket_resolutions as (
    select
        customer_id,
        greatest(resolved_at, created_at)::date as activity_date,
        -count(*) as open_ticket_delta,
        coalesce(sum(satisfaction), 0) as satisfaction_sum,
        count(satisfaction) as satisfaction_count,
    from support_tickets
    where resolved_at is not null
        {{- cw_on_or_after('greatest(resolved_at, created_at)', since) }}
    group by all
),

email_days as (
    select
        customer_id,
        occurred_at::date as activity_date,
        count(*) filter (where event_type = 'sent') as emails_sent,
        count(*) filter (where event_type = 'open') as email_opens,
        count(*) filter (where event_type = 'click') as email_clicks,
        count(*) filter (where event_type = 'unsubscribe') as unsubscribes,
    from email_events
    where true {{ cw_on_or_after('occurred_at', since) }}
    group by all
),

unioned as (
    select * from order_days
    union all by name select * from gap_days
    union all by name select * from item_days
    union all by name select * from category_days
    union all by name select * from delivery_days
    union all by name select * from overdue_deltas
    union all by name select * from session_days
    union all by name select * from review_days
    union all by name select * from ticket_days
    union all by name select * from ticket_resolutions
    union all by name select * from email_days
),

final as (
    select
        -- grain
        customer_id,
        activity_date,
        -- measures (a day counts once as active however many sources saw it)
        {%- for m in cw_activity_measures() %}
        {%- if m == 'active_days' %}
        coalesce(max(active_days), 0)::integer as active_days,
        {%- elif m in ('spend', 'discount') %}
        coalesce(sum({{ m }}), 0)::decimal(18, 2) as {{ m }},
        {%- elif m == 'browse_seconds' %}
        coalesce(sum({{ m }}), 0)::double as {{ m }},
        {%- else %}
        coalesce(sum({{ m }}), 0)::bigint as {{ m }},
        {%- endif %}
        {%- endfor %}
    from unioned
    group by customer_id, activity_date
)

-- in customer order: int_customer_feature_windows reads it a range of customers at a time
select * from final
order by customer_id, activity_date
{% endmacro %}

{#- The day int_customer_category_firsts recomputes from on an incremental run: the daily
    activity's (cw_daily_rebuild_from, read from that table as the last run left it: this model
    runs before it), or none on a first build, with --full-refresh, or without that table. -#}
{% macro cw_category_firsts_since() %}
    {%- if not execute or not is_incremental() %}
        {{ return(none) }}
    {%- endif %}
    {%- set daily = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_customer_daily_activity') %}
    {%- if daily is none %}
        {{ return(none) }}
    {%- endif %}
    {{ return(cw_daily_rebuild_from(daily)) }}
{% endmacro %}

{#- The pre-hook of int_customer_category_firsts: deletes the first days it recomputes. -#}
{% macro cw_delete_recomputed_category_firsts() %}
    {%- set since = cw_category_firsts_since() %}
    {%- if since is not none %}
        {%- do run_query('delete from ' ~ this ~ ' where first_date >= ' ~ since) %}
    {%- endif %}
    {{ return('') }}
{% endmacro %}
