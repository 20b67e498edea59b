{{ cw_loaded('email_events', ref('stg_shop__email_events_checked')) }}
