{{ config(materialized='table') }}

{{ cw_checked('email_events') }}
