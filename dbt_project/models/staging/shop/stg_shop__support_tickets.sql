{{ cw_loaded('support_tickets', ref('stg_shop__support_tickets_checked')) }}
