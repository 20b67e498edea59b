{{ config(materialized='table') }}

{{ cw_checked('support_tickets') }}
