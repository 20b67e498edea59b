{{ cw_loaded('events', ref('stg_shop__events_checked')) }}
