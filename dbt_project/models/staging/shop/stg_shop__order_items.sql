{{ cw_loaded('order_items', ref('stg_shop__order_items_checked')) }}
