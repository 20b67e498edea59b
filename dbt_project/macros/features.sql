{#- The feature logic shared by customer_features (the weekly history) and scoring_examples (the
    as-of date): docs/features.md explains every feature and its default. -#}

{#- The per-day measures of int_customer_daily_activity; int_customer_feature_windows sums
    them over trailing windows (which measures over which windows: its config in
    models/intermediate/_intermediate__models.yml). -#}
{% macro cw_activity_measures() %}
{{ return([
    'completed_orders', 'purchases', 'spend', 'discount', 'coupon_orders', 'orders_placed',
    'cancelled_orders', 'returned_orders', 'items', 'new_categories',
    'gap_days_sum', 'gap_days_sq_sum', 'gaps',
    'deliveries', 'late_deliveries', 'overdue_delivery_delta',
    'sessions', 'active_days', 'browse_seconds', 'searches', 'product_views',
    'cart_sessions', 'abandoned_cart_sessions',
    'reviews', 'rating_sum', 'low_ratings',
    'tickets', 'open_ticket_delta', 'satisfaction_sum', 'satisfaction_count',
    'emails_sent', 'email_opens', 'email_clicks', 'unsubscribes',
]) }}
{% endmacro %}

{#- The customer_features table as it is before this run (int_feature_pairs computes only the
    snapshots it lacks): a relation, or none on a first build and with --full-refresh. Not a
    ref(): customer_features is built from int_feature_pairs. -#}
{% macro cw_feature_history() %}
    {%- if flags.FULL_REFRESH or not execute %}
        {{ return(none) }}
    {%- endif %}
    {{ return(adapter.get_relation(
        database=this.database, schema=target.schema, identifier='customer_features')) }}
{% endmacro %}

{% macro cw_feature_history_exists() %}
    {{ return(cw_feature_history() is not none) }}
{% endmacro %}

{#- The first day an incremental int_customer_daily_activity run recomputes (a date literal,
    read by its post-hook cw_fill_daily_activity() before it deletes those days): the last day with an order placed or a session in the table. Facts dated before
    it were all known when it was built (append-only data); facts dated on or after it may be
    incomplete (a delivery not yet made, an order still arriving that day). -#}
{% macro cw_daily_rebuild_from(relation=none) %}
    {%- if not execute %}
        {{ return("date '0001-01-01'") }}
    {%- endif %}
    {%- set found = run_query(
        "select coalesce(max(activity_date), date '0001-01-01')::varchar from "
        ~ (relation if relation is not none else this)
        ~ " where orders_placed > 0 or sessions > 0") %}
    {{ return("date '" ~ found.columns[0].values()[0] ~ "'") }}
{% endmacro %}

{#- ` and <expr> >= <since>`, or nothing when `since` is none (a full build). Pass a TIMESTAMP
    column itself, not its ::date: the same rows (since is a date), and DuckDB pushes the
    filter into the scan (at 1 M customers the events: 1.36 s -> 0.14 s). -#}
{% macro cw_on_or_after(expr, since) -%}
    {%- if since is not none %} and {{ expr }} >= {{ since }}{% endif -%}
{%- endmacro %}

{#- x / y, or `default` where y is 0. -#}
{% macro cw_ratio(x, y, default=0) -%}
    case when ({{ y }}) > 0 then ({{ x }})::double / ({{ y }}) else {{ default }} end
{%- endmacro %}

{#- Last 30 days against the 60 before, per day, smoothed so that zeros stay finite:
    (x_30d + 1) / (x_[90d,30d) / 2 + 1). 1 = steady, < 1 = slowing down. -#}
{% macro cw_trend(m) -%}
    ({{ m }}_30d + 1.0) / (({{ m }}_90d - {{ m }}_30d) / 2.0 + 1.0)
{%- endmacro %}

{#- Days from `date_expr` to the snapshot, capped at recency_cap_days; never seen = the cap. -#}
{% macro cw_recency(date_expr) -%}
    coalesce(least(snapshot_date - {{ date_expr }}, {{ var('recency_cap_days') }}),
        {{ var('recency_cap_days') }})
{%- endmacro %}

{#- CTEs (each ending with a comma) that turn `windowed` (rows of int_customer_feature_windows:
    customer_id, snapshot_date, `<measure>_all`, `<measure>_<w>d` over [T - w, T),
    `last_<name>_date`, all from activity dated before the snapshot) into `features`
    (customer_id, snapshot_date, one DOUBLE column per var('feature_names') in order).
    `customers` is int_customers_resolved. A new feature that needs another window sum: add the
    measure to `window_measures` / `lifetime_measures` of int_customer_feature_windows. -#}
{% macro cw_feature_ctes(windowed, customers) %}
with_customer as (
    select
        {{ windowed }}.*,
        greatest({{ windowed }}.snapshot_date - {{ customers }}.signup_at::date, 0) as tenure_days,
        {{ customers }}.gender,
        {{ customers }}.birth_year,
        {{ customers }}.country,
        {{ customers }}.acquisition_channel,
    from {{ windowed }}
    inner join {{ customers }} on {{ windowed }}.customer_id = {{ customers }}.customer_id
),

computed as (
    select
        customer_id,
        snapshot_date,
        -- tenure
        tenure_days,
        (tenure_days < {{ var('new_customer_days') }})::integer as is_new_customer,
        -- recency (capped; never seen = the cap)
        {{ cw_recency('last_purchase_date') }} as days_since_last_order,
        {{ cw_recency('last_session_date') }} as days_since_last_session,
        {{ cw_recency('last_review_date') }} as days_since_last_review,
        {{ cw_recency('last_ticket_date') }} as days_since_last_ticket,
        -- activity over windows
        {%- for w in (7, 30, 90, 180) %}
        purchases_{{ w }}d as orders_{{ w }}d,
        spend_{{ w }}d,
        sessions_{{ w }}d,
        active_days_{{ w }}d,
        {%- endfor %}
        purchases_all as orders_lifetime,
        spend_all as spend_lifetime,
        -- trends: last 30 days vs the 60 before
        {{ cw_trend('purchases') }} as orders_trend,
        {{ cw_trend('spend') }} as spend_trend,
        {{ cw_trend('sessions') }} as sessions_trend,
        {{ cw_trend('active_days') }} as active_days_trend,
        -- gaps between purchase days; no repeat purchase yet: the usual gap is the active window
        {{ cw_ratio('gap_days_sum_all', 'gaps_all', var('active_window_days')) }}
            as order_gap_mean_days,
        case when gaps_all > 0 then sqrt(greatest(
            gap_days_sq_sum_all / gaps_all - pow(gap_days_sum_all / gaps_all, 2), 0))
        else 0 end as order_gap_std_days,
        -- tenure-scaled rates (per 30 days, tenure at least 30 days)
        orders_lifetime * 30.0 / greatest(tenure_days, 30) as orders_per_30d_tenure,
        spend_lifetime * 30.0 / greatest(tenure_days, 30) as spend_per_30d_tenure,
        -- the customer's usual pace (lifetime per 30 days of tenure) and the recent pace against
        -- it: the simulator's churn depends on a latent order rate and on whether activity has
        -- started to fade (bench/RESULTS_accuracy.md)
        (purchases_all + 1) * 30.0 / (tenure_days + 30) as orders_per_30d_shrunk,
        orders_placed_all * 30.0 / greatest(tenure_days, 30) as orders_placed_per_30d_tenure,
        sessions_all * 30.0 / greatest(tenure_days, 30) as sessions_per_30d_tenure,
        active_days_all * 30.0 / greatest(tenure_days, 30) as active_days_per_30d_tenure,
        product_views_all * 30.0 / greatest(tenure_days, 30) as product_views_per_30d_tenure,
        (sessions_30d + 1.0) / (sessions_all * 30.0 / greatest(tenure_days, 30) + 1.0)
            as sessions_30d_vs_lifetime,
        (sessions_7d + 1.0) / (sessions_all * 7.0 / greatest(tenure_days, 30) + 1.0)
            as sessions_7d_vs_lifetime,
        (active_days_30d + 1.0) / (active_days_all * 30.0 / greatest(tenure_days, 30) + 1.0)
            as active_days_30d_vs_lifetime,
        (email_opens_90d + 1.0) / (email_opens_all * 90.0 / greatest(tenure_days, 30) + 1.0)
            as email_opens_90d_vs_lifetime,
        -- baskets
        {{ cw_ratio('spend_180d', 'purchases_180d') }} as avg_basket_value_180d,
        {{ cw_ratio('spend_all', 'purchases_all') }} as avg_basket_value_lifetime,
        {{ cw_ratio('items_180d', 'purchases_180d') }} as items_per_order_180d,
        {{ cw_ratio('discount_180d', 'spend_180d + discount_180d') }} as discount_share_180d,
        {{ cw_ratio('coupon_orders_180d', 'purchases_180d') }} as coupon_order_share_180d,
        {{ cw_ratio('cancelled_orders_180d', 'orders_placed_180d') }} as cancel_rate_180d,
        -- returns over orders placed in [T-180, T-30): a return is recorded later than the
        -- order, so the last 30 days' orders have not settled yet
        {{ cw_ratio('returned_orders_180d - returned_orders_30d',
                    'purchases_180d - purchases_30d') }} as return_rate_180d,
        -- deliveries (known once delivered)
        late_deliveries_90d,
        {{ cw_ratio('late_deliveries_180d', 'deliveries_180d') }} as late_delivery_rate_180d,
        {{ cw_ratio('late_deliveries_all', 'deliveries_all') }} as late_delivery_rate_lifetime,
        overdue_delivery_delta_all as open_overdue_deliveries,
        -- reviews (no rating: neutral 3)
        reviews_180d,
        {{ cw_ratio('rating_sum_180d', 'reviews_180d', 3) }} as avg_rating_180d,
        low_ratings_180d,
        low_ratings_all as low_ratings_lifetime,
        -- support (open = created before T, not resolved before T; no score: neutral 3)
        tickets_90d,
        tickets_180d,
        open_ticket_delta_all as open_tickets,
        tickets_all as tickets_lifetime,
        {{ cw_ratio('satisfaction_sum_180d', 'satisfaction_count_180d', 3) }}
            as avg_satisfaction_180d,
        -- browsing
        browse_seconds_30d / 60.0 as browse_minutes_30d,
        searches_30d,
        product_views_30d,
        cart_sessions_30d,
        {{ cw_ratio('abandoned_cart_sessions_90d', 'cart_sessions_90d') }}
            as cart_abandonment_rate_90d,
        -- email
        emails_sent_90d,
        email_opens_90d,
        email_clicks_90d,
        least({{ cw_ratio('email_opens_90d', 'emails_sent_90d') }}, 1) as email_open_rate_90d,
        least({{ cw_ratio('email_opens_all', 'emails_sent_all') }}, 1) as email_open_rate_lifetime,
        (unsubscribes_all > 0)::integer as is_unsubscribed,
        new_categories_all as categories_lifetime,
        -- demographics (unknown age: 0 with has_age = 0)
        case when birth_year between 1900 and year(snapshot_date)
            then year(snapshot_date) - birth_year else 0 end as age_years,
        coalesce(birth_year between 1900 and year(snapshot_date), false)::integer as has_age,
        {{ cw_one_hot('gender', 'gender') }}
        {{ cw_one_hot('country', 'country') }}
        {{ cw_one_hot('channel', 'acquisition_channel') }}
    from with_customer
),

features as (
    select
        customer_id,
        snapshot_date,
        {%- for name in var('feature_names') %}
        {%- if name == 'overdue_ratio' %}
        (days_since_last_order / order_gap_mean_days)::double as overdue_ratio,
        {%- else %}
        {{ name }}::double as {{ name }},
        {%- endif %}
        {%- endfor %}
    from computed
),
{% endmacro %}

{#- One 0/1 column per `<prefix>_<value>` in var('feature_names'); `<prefix>_other` is 1 for any
    other value, NULL included. Each line ends with a comma. -#}
{% macro cw_one_hot(prefix, column) %}
{%- set values = [] %}
{%- for name in var('feature_names') %}
{%- if name.startswith(prefix ~ '_') and name != prefix ~ '_other' %}
{%- do values.append(name[prefix | length + 1:]) %}
{%- endif %}
{%- endfor %}
{%- for v in values %}
        coalesce({{ column }} = '{{ v }}', false)::integer as {{ prefix }}_{{ v }},
{%- endfor %}
{%- if (prefix ~ '_other') in var('feature_names') %}
        coalesce({{ column }} not in ('{{ values | join("', '") }}'), true)::integer
            as {{ prefix }}_other,
{%- endif %}
{% endmacro %}

{#- `[f1::float, f2::float, ...]::FLOAT[N]` over var('feature_names'), optionally qualified by
    `relation` (each value cast first: a list of DOUBLE cast to FLOAT[N] as a whole took 1.0 s
    for 863k rows at 1 M customers, this 0.85 s). -#}
{% macro cw_feature_array(relation=none) -%}
    {%- set names = var('feature_names') -%}
    [
        {%- for name in names -%}
        {{ relation ~ '.' if relation else '' }}{{ name }}::float{{ ', ' if not loop.last }}
        {%- endfor -%}
    ]::float[{{ names | length }}]
{%- endmacro %}

{#- A post-hook of incremental Python models: dbt-duckdb writes a Python model's incremental rows
    to a table `<model>__dbt_tmp<timestamp>` in the main schema and never drops it (one more
    leftover per run); this drops any such table left by this model. -#}
{% macro cw_drop_python_incremental_leftovers() %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set found = run_query(
        "select table_schema, table_name from information_schema.tables "
        ~ "where table_catalog = current_database() and starts_with(table_name, '"
        ~ this.identifier ~ "__dbt_tmp')") %}
    {%- for row in found.rows %}
        {%- do run_query('drop table if exists "' ~ row[0] ~ '"."' ~ row[1] ~ '"') %}
    {%- endfor %}
    {{ return('') }}
{% endmacro %}

{#- The days that make a customer eligible for the active window after them (docs/features.md,
    churn definition): days with a completed order and the signup day, optionally only from
    `since` (a SQL date expression) on; distinct per customer unless `distinct` is false (a
    signup on an order day then appears twice: for a reader that deduplicates anyway). Read by
    int_customer_active_spells and by an incremental int_feature_pairs. -#}
{% macro cw_qualifying_days(daily, customers, since=none, distinct=true) %}
    select customer_id, activity_date as qualifying_date
    from {{ daily }}
    where completed_orders > 0{{ cw_on_or_after('activity_date', since) }}
    -- union, not union all: a signup on an order day would repeat that day, and the spells'
    -- running sum orders tied rows differently from lag(), which split the spell in two (CDNOW:
    -- customers derived from orders sign up on their first order day)
    union{{ ' all' if not distinct }}
    select customer_id, signup_at::date
    from {{ customers }}
    where true{{ cw_on_or_after('signup_at', since) }}
{% endmacro %}
