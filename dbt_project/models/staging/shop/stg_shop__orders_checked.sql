{{ config(materialized='table') }}

{{ cw_checked('orders') }}
