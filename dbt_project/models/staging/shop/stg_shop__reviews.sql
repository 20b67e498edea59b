{{ cw_loaded('reviews', ref('stg_shop__reviews_checked')) }}
