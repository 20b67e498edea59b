{{ config(materialized='table') }}

{#- Items are checked against the loaded orders: an item of a missing or rejected order is an
    orphan (rejected), never silently dropped. -#}
{{ cw_checked('order_items', orphan_orders=ref('stg_shop__orders')) }}
