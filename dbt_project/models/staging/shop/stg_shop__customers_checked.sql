{{ config(materialized='table') }}

{{ cw_checked('customers') }}
