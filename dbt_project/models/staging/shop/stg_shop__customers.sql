{{ cw_loaded('customers', ref('stg_shop__customers_checked')) }}
