{{ config(materialized='table') }}

{{ cw_checked('reviews') }}
