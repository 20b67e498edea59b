{{ config(materialized='table') }}

{{ cw_checked('events') }}
