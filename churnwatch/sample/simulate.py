"""Behaviour simulator of the sample shop: one vectorised chunk of customers at a time.

`simulate_chunk` draws every entity of the raw-data contract for a block of customers (clean,
before defects) plus the latent ground truth. Randomness comes from a generator seeded with
``SeedSequence([seed, chunk_index, stream])``, so a chunk's output depends only on the seed, the
chunk index and the fixed `CHUNK_SIZE` (not on the machine, the number of worker processes or
other chunks; order numbers are ``chunk * ORDER_BLOCK + k``).

The hot path loops over days (vectorised over the customers of the chunk) and over email
campaigns; nothing loops over customers in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from churnwatch.sample import model
from churnwatch.sample.formatting import (
    fmt_id,
    fmt_money,
    fmt_ts,
    int_array,
    take_strings,
)
from churnwatch.sample.model import SECONDS_PER_DAY, ModelParams

CHUNK_SIZE = 25_000  # customers per chunk; part of what makes the output reproducible
BEHAVIOUR, DEFECTS, MALFORMED, CATALOG = 0, 1, 2, 3  # RNG stream ids
NEVER = np.iinfo(np.int32).max  # onset day of a customer who never disengages

CUSTOMER_ID_WIDTH = 7
ORDER_ID_WIDTH = 9
ORDER_BLOCK = 10_000_000  # order number = chunk * ORDER_BLOCK + n-th order of the chunk
SESSION_SEQ = 100_000  # session id = customer number * SESSION_SEQ + per-customer sequence

STATUS = ["completed", "cancelled", "returned"]
CHANNELS = ["organic", "paid_search", "social", "referral", "email", "affiliate"]
CHANNEL_P = [0.34, 0.25, 0.15, 0.10, 0.10, 0.06]
CHANNEL_LAMBDA = np.array([1.0, 0.85, 0.75, 1.25, 1.1, 0.7])
CHANNEL_HAZARD = np.array([1.0, 1.3, 1.45, 0.7, 0.9, 1.5])
GENDERS: list[str | None] = ["female", "male", "other", None]
GENDER_P = [0.48, 0.45, 0.02, 0.05]
COUNTRIES = ["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "AT", "BE"]
COUNTRY_P = [0.30, 0.15, 0.15, 0.08, 0.08, 0.08, 0.06, 0.04, 0.03, 0.03]
CITIES = [
    ["Berlin", "Hamburg", "Munich"],
    ["Paris", "Lyon", "Marseille"],
    ["London", "Manchester", "Leeds"],
    ["Amsterdam", "Rotterdam", "Utrecht"],
    ["Madrid", "Barcelona", "Valencia"],
    ["Rome", "Milan", "Naples"],
    ["Warsaw", "Krakow", "Gdansk"],
    ["Stockholm", "Gothenburg", "Malmo"],
    ["Vienna", "Graz", "Linz"],
    ["Brussels", "Antwerp", "Ghent"],
]
PHONE_PREFIX = ["+49", "+33", "+44", "+31", "+34", "+39", "+48", "+46", "+43", "+32"]
FIRST_NAMES = [
    "anna",
    "ben",
    "clara",
    "david",
    "emma",
    "felix",
    "greta",
    "hugo",
    "ida",
    "jonas",
    "karla",
    "leon",
    "mia",
    "noah",
    "olga",
    "paul",
    "quinn",
    "rosa",
    "sam",
    "tara",
]
LAST_NAMES = [
    "meyer",
    "martin",
    "smith",
    "jansen",
    "garcia",
    "rossi",
    "nowak",
    "larsson",
    "huber",
    "peeters",
    "schmidt",
    "bernard",
    "jones",
    "devries",
    "lopez",
    "russo",
    "kowalski",
    "berg",
]
EMAIL_DOMAINS = ["example.com", "example.org", "mail.example.net"]
PAYMENT = ["card", "paypal", "invoice", "apple_pay", "gift_card"]
DEVICES = ["mobile", "desktop", "tablet", "app"]
BROWSE_EVENTS = [
    "page_view",
    "search",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "wishlist",
]
BROWSE_EVENT_P = [0.33, 0.14, 0.36, 0.08, 0.03, 0.06]
EV_PAGE, EV_SEARCH, EV_PRODUCT, EV_CART, EV_REMOVE, EV_WISH, EV_CHECKOUT = range(7)
EVENT_TYPES = [*BROWSE_EVENTS, "checkout"]
EMAIL_TYPES = ["sent", "open", "click", "unsubscribe"]
TICKET_CATEGORIES = ["delivery", "product", "payment", "account", "return"]
COUPONS = ["WELCOME10", "SAVE10", "SAVE15", "XMAS20", "VIP25"]
COUPON_PCT = np.array([0.10, 0.10, 0.15, 0.20, 0.25])
REVIEW_TEXT: list[str | None] = [
    None,
    "Very disappointed, would not order again.",
    "Not great, had problems with this order.",
    "Okay, nothing special.",
    "Good product, arrived as expected.",
    "Excellent, fast delivery, very happy!",
]
CATEGORIES = [
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "toys",
    "books",
    "garden",
    "grocery",
    "pets",
    "office",
    "jewelry",
]
CATEGORY_PRICE = [120.0, 45.0, 40.0, 22.0, 50.0, 28.0, 15.0, 35.0, 9.0, 18.0, 20.0, 80.0]
PRODUCTS_PER_CATEGORY = 120
# Hour-of-day profile of shop activity (UTC), evening peak.
HOUR_P = np.array(
    [
        1,
        0.6,
        0.4,
        0.3,
        0.3,
        0.5,
        1,
        2,
        3,
        3.5,
        3.8,
        4,
        4.2,
        4,
        3.8,
        3.8,
        4,
        4.5,
        5.5,
        6.5,
        7,
        6,
        4,
        2.2,
    ]
)
HOUR_P = HOUR_P / HOUR_P.sum()
CAMPAIGN_EVERY_DAYS = 14


@dataclass(frozen=True)
class Period:
    """The simulated calendar: day 0 is `start`, day ``days - 1`` is `end` (inclusive)."""

    end: dt.date
    days: int

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days - 1)

    @property
    def start_epoch(self) -> int:
        return int((self.start - dt.date(1970, 1, 1)).days) * SECONDS_PER_DAY

    @property
    def end_epoch(self) -> int:
        """First second after the period (exclusive bound for every timestamp)."""
        return self.start_epoch + self.days * SECONDS_PER_DAY


@dataclass(frozen=True)
class Catalog:
    """Product catalogue shared by all chunks (products grouped by category)."""

    product_category: np.ndarray  # int code per product
    price_cents: np.ndarray  # int64 per product
    category_popularity: np.ndarray  # probability per category

    @property
    def size(self) -> int:
        return len(self.price_cents)


def rng_for(seed: int, chunk: int, stream: int) -> np.random.Generator:
    """Generator for one (seed, chunk, stream); chunk -1 is mapped to a reserved key."""
    key = chunk if chunk >= 0 else 2**31 - 1
    return np.random.default_rng(np.random.SeedSequence([seed, key, stream]))


def make_catalog(seed: int) -> Catalog:
    """Draws the product catalogue (categories, prices) from the seed."""
    rng = rng_for(seed, -1, CATALOG)
    n_cat = len(CATEGORIES)
    cat = np.repeat(np.arange(n_cat), PRODUCTS_PER_CATEGORY)
    price = np.array(CATEGORY_PRICE)[cat] * rng.lognormal(0.0, 0.55, size=cat.size)
    price_cents = np.maximum(np.round(price, 0) * 100 - 1, 99).astype(np.int64)  # 19.99 style
    pop = rng.dirichlet(np.full(n_cat, 3.0))
    return Catalog(cat, price_cents, pop)


def _tod_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = rng.choice(24, size=n, p=HOUR_P)
    return hour * 3600 + rng.integers(0, 3600, size=n)


def _within_group_index(group_sizes: np.ndarray) -> np.ndarray:
    """0, 1, .. k-1 for each group of size k, concatenated."""
    total = int(group_sizes.sum())
    starts = np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)
    return np.arange(total) - starts


@dataclass
class ChunkResult:
    """Clean tables of one chunk (pyarrow, output schema) and its ground truth."""

    tables: dict[str, pa.Table]
    customers_truth: pa.Table
    orders_truth: pa.Table
    n_orders: int


def simulate_chunk(
    seed: int,
    chunk: int,
    first_customer: int,
    n: int,
    period: Period,
    catalog: Catalog,
    params: ModelParams = model.DEFAULT_PARAMS,
) -> ChunkResult:
    """Simulates `n` customers (global numbers ``first_customer + 1 ..``) over the period.

    Args:
        seed: Global seed.
        chunk: Chunk index (for the RNG).
        first_customer: Number of customers in earlier chunks.
        n: Customers in this chunk.
        period: The calendar.
        catalog: Product catalogue.
        params: Behaviour model parameters.

    Returns:
        The chunk's clean tables and truth.
    """
    rng = rng_for(seed, chunk, BEHAVIOUR)
    D = period.days
    days = np.arange(D)
    season = model.season(period.start, days)
    # Season without the weekly rhythm: the holiday factor (drives late deliveries, coupons).
    hol_factor = model.holiday_factor(period.start, days)
    late_p = 0.05 + 0.22 * np.clip(hol_factor - 1.0, 0.0, 1.0)

    # ---------------------------------------------------------------- customers and traits
    cust_num = first_customer + 1 + np.arange(n)  # 1-based customer numbers
    dens = (1.0 + 1.5 * days / D) * hol_factor
    signup_day = np.sort(rng.choice(D, size=n, p=dens / dens.sum())).astype(np.int32)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)
    z_eng = rng.normal(size=n)
    lam0 = np.exp(np.log(1 / 22) + 0.85 * rng.normal(size=n) + 0.25 * z_eng)
    lam0 = np.minimum(lam0 * CHANNEL_LAMBDA[channel], 0.5)
    p_cancel = rng.beta(1.5, 40.0, size=n)
    p_return = rng.beta(1.5, 22.0, size=n)
    browse = lam0 * np.exp(np.log(0.7) + 0.5 * z_eng + 0.3 * rng.normal(size=n))
    price_sens = rng.beta(2.0, 2.0, size=n)
    patience = np.exp(0.4 * rng.normal(size=n))
    h0 = params.base_hazard * np.exp(0.6 * rng.normal(size=n) - 0.35 * z_eng)
    h0 = h0 * CHANNEL_HAZARD[channel]
    phi = rng.uniform(10.0, 35.0, size=n)
    basket = rng.gamma(2.0, 0.4, size=n)
    open_prop = np.clip(rng.beta(2.0, 4.0, size=n) * np.exp(0.3 * z_eng), 0.0, 0.95)
    pref_cat = rng.choice(len(CATEGORIES), size=n, p=catalog.category_popularity)
    pref_device = rng.choice(len(DEVICES), size=n, p=[0.5, 0.3, 0.08, 0.12])
    pref_payment = rng.choice(len(PAYMENT), size=n, p=[0.45, 0.3, 0.12, 0.1, 0.03])

    # ---------------------------------------------------------------- the daily process
    decay = model.memory_decay(params)
    onset = np.full(n, NEVER, dtype=np.int32)
    B = np.zeros(n)
    last_good = signup_day.astype(np.int64).copy()
    first_campaign = (1 - period.start.weekday()) % 7 + 3  # a Tuesday in the first fortnight
    campaign_days = np.arange(first_campaign, D, CAMPAIGN_EVERY_DAYS)
    campaign_pos = {int(d): i for i, d in enumerate(campaign_days)}
    B_at_campaign = np.zeros((len(campaign_days), n), dtype=np.float32)
    o_parts: list[tuple[np.ndarray, ...]] = []
    s_parts: list[tuple[np.ndarray, ...]] = []

    # Customers are numbered in signup order, so the signed-up customers on day t are a prefix.
    n_signed = np.searchsorted(signup_day, days, side="right")
    for t in range(D):
        k = int(n_signed[t])
        if k == 0:
            continue
        on = onset[:k]  # views: updates write through
        Bk = B[:k]
        post = on < t
        M = np.ones(k)
        if post.any():
            M[post] = model.fade(t - on[post], phi[:k][post], params)
        n_ord = rng.poisson(lam0[:k] * (season[t] * M))
        Bk *= decay
        oc = np.flatnonzero(n_ord)
        if oc.size:
            cust = np.repeat(oc, n_ord[oc])
            m = cust.size
            u = rng.random(m)
            status = np.where(
                u < p_cancel[cust], 1, np.where(u < p_cancel[cust] + p_return[cust], 2, 0)
            ).astype(np.int8)
            shipped = status != 1
            late = (rng.random(m) < late_p[t]) & shipped
            defective = (rng.random(m) < 0.04) & shipped
            experience = -0.5 + 1.2 * late + 1.1 * defective + rng.normal(0.0, 0.35, size=m)
            p_ticket = np.where(late | defective, 0.45, np.where(status == 2, 0.25, 0.03))
            ticket = rng.random(m) < p_ticket
            unresolved = ticket & (rng.random(m) < 0.25)
            coupon = rng.random(m) < 0.05 + 0.35 * price_sens[cust]
            is_pre = ~post[cust]
            completed = status == 0
            jump = np.where(
                completed & is_pre,
                (experience + 0.9 * unresolved) / patience[cust]
                - 0.35 * coupon * price_sens[cust],
                0.0,
            )
            good = completed & is_pre & ~late & ~defective & ~unresolved & (experience < 0)
            Bk += np.bincount(cust, weights=jump, minlength=k)
            last_good[cust[good]] = t
            o_parts.append(
                (
                    cust,
                    np.full(m, t, np.int32),
                    status,
                    late,
                    defective,
                    experience,
                    ticket,
                    unresolved,
                    coupon,
                    M[cust],
                    is_pre,
                    jump,
                    good,
                )
            )
        h = model.onset_hazard(h0[:k], Bk, t - last_good[:k], params)
        new = (on == NEVER) & (rng.random(k) < -np.expm1(-h))
        on[new] = t
        ci = campaign_pos.get(t)
        if ci is not None:
            B_at_campaign[ci, :k] = Bk
        ns = rng.poisson(browse[:k] * (season[t] * M) / (1.0 + 0.3 * np.maximum(Bk, 0.0)))
        sc = np.flatnonzero(ns)
        if sc.size:
            s_parts.append((sc, np.full(sc.size, t, np.int32), ns[sc]))

    def cat(i: int, parts: list, dtype=None) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype=dtype or np.float64)
        return np.concatenate([p[i] for p in parts])

    (
        o_cust,
        o_day,
        o_status,
        o_late,
        o_def,
        o_exp,
        o_ticket,
        o_unres,
        o_coupon,
        o_M,
        o_pre,
        o_jump,
        o_good,
    ) = (cat(i, o_parts) for i in range(13))
    o_cust = o_cust.astype(np.int64)
    o_day = o_day.astype(np.int64)
    o_status = o_status.astype(np.int8)
    m = o_cust.size
    # Orders are already sorted by day; sort by (customer, day) is not needed for the files.
    tod = _tod_seconds(rng, m)
    ordered_at = period.start_epoch + o_day * SECONDS_PER_DAY + tod
    if m >= ORDER_BLOCK:
        raise ValueError("too many orders in one chunk")
    order_num = chunk * ORDER_BLOCK + 1 + np.arange(m)  # independent of other chunks
    # Ids are formatted once per distinct value, then gathered with `take` (much faster).
    cust_ids = fmt_id("C", cust_num, CUSTOMER_ID_WIDTH)
    order_ids = fmt_id("O", order_num, ORDER_ID_WIDTH)
    product_ids = fmt_id("P", np.arange(1, catalog.size + 1), 5)

    # ---------------------------------------------------------------- order items
    n_items = 1 + np.minimum(rng.poisson(basket[o_cust] * (0.5 + 0.5 * o_M)), 5)
    it_order = np.repeat(np.arange(m), n_items)
    it_j = _within_group_index(n_items)
    P = catalog.size
    own_cat = rng.random(m) < 0.7
    p0 = np.where(
        own_cat,
        pref_cat[o_cust] * PRODUCTS_PER_CATEGORY + rng.integers(0, PRODUCTS_PER_CATEGORY, m),
        rng.integers(0, P, m),
    )
    step = rng.integers(1, P // 6, m)
    product = (p0[it_order] + it_j * step[it_order]) % P  # distinct within an order
    qty = 1 + (rng.random(it_order.size) < 0.15) * (1 + rng.poisson(0.3, it_order.size))
    unit_cents = catalog.price_cents[product]
    subtotal = np.bincount(it_order, weights=qty * unit_cents, minlength=m).astype(np.int64)

    # ---------------------------------------------------------------- discounts, delivery
    first_of_customer = np.ones(m, dtype=bool)
    order_by_cust = np.lexsort((o_day, o_cust))
    sc_sorted = o_cust[order_by_cust]
    first_of_customer[order_by_cust[1:]] = sc_sorted[1:] != sc_sorted[:-1]
    coupon_code = np.where(
        first_of_customer,
        0,
        np.where(hol_factor[o_day] > 1.3, 3, rng.choice([1, 2, 4], size=m, p=[0.5, 0.35, 0.15])),
    )
    discount = np.where(o_coupon, np.round(subtotal * COUPON_PCT[coupon_code]), 0).astype(np.int64)
    amount = subtotal - discount
    payment = np.where(
        rng.random(m) < 0.85, pref_payment[o_cust], rng.integers(0, len(PAYMENT), m)
    )
    promised = period.start_epoch + (o_day + rng.integers(2, 6, m)) * SECONDS_PER_DAY + 18 * 3600
    delivered = np.where(
        o_late,
        promised + rng.integers(SECONDS_PER_DAY, 6 * SECONDS_PER_DAY, m),
        promised - rng.integers(0, int(1.2 * SECONDS_PER_DAY), m),
    )
    delivered = np.maximum(delivered, ordered_at + 6 * 3600)
    no_delivery = (o_status == 1) | (delivered >= period.end_epoch)

    orders = pa.table(
        {
            "order_id": order_ids,
            "customer_id": _take(cust_ids, o_cust),
            "ordered_at": fmt_ts(ordered_at),
            "amount": fmt_money(amount),
            "status": take_strings(STATUS, o_status),
            "discount_amount": fmt_money(discount),
            "coupon_code": fmt_coupon(take_strings(COUPONS, coupon_code), o_coupon),
            "payment_method": take_strings(PAYMENT, payment),
            "promised_delivery_at": fmt_ts(promised, mask=o_status == 1),
            "delivered_at": fmt_ts(delivered, mask=no_delivery),
        }
    )
    items = pa.table(
        {
            "order_id": _take(order_ids, it_order),
            "product_id": _take(product_ids, product),
            "quantity": int_array(qty),
            "unit_price": fmt_money(unit_cents),
            "category": take_strings(CATEGORIES, catalog.product_category[product]),
        }
    )

    # ---------------------------------------------------------------- reviews
    delivered_ok = ~no_delivery
    p_review = 0.12 + 0.25 * (o_exp > 0.3) + 0.1 * (o_status == 2)
    rv = np.flatnonzero(delivered_ok & (rng.random(m) < p_review))
    rating = np.clip(
        np.round(4.4 - 1.5 * o_exp[rv] - 1.0 * (o_status[rv] == 2) + rng.normal(0, 0.6, rv.size)),
        1,
        5,
    ).astype(np.int64)
    rv_created = delivered[rv] + rng.integers(3600, 10 * SECONDS_PER_DAY, rv.size)
    keep = rv_created < period.end_epoch
    rv, rating, rv_created = rv[keep], rating[keep], rv_created[keep]
    first_item = np.cumsum(n_items) - n_items
    text_code = np.where(rng.random(rv.size) < 0.6, rating, 0)
    reviews = pa.table(
        {
            "customer_id": _take(cust_ids, o_cust[rv]),
            "rating": int_array(rating),
            "created_at": fmt_ts(rv_created),
            "order_id": _take(order_ids, rv),
            "product_id": _take(product_ids, product[first_item[rv]]),
            "review_text": take_strings(REVIEW_TEXT, text_code),
        }
    )

    # ---------------------------------------------------------------- support tickets
    tk = np.flatnonzero(o_ticket)
    base = np.where(no_delivery[tk], ordered_at[tk], delivered[tk])
    tk_created = base + rng.integers(1800, 3 * SECONDS_PER_DAY, tk.size)
    tk_cat = np.where(
        o_late[tk],
        0,
        np.where(o_def[tk], 1, np.where(o_status[tk] == 2, 4, rng.integers(0, 5, tk.size))),
    )
    tk_cust = o_cust[tk]
    tk_unres = o_unres[tk]
    # Tickets not linked to an order (questions about the account, payment...).
    churn_day = np.where(onset == NEVER, D, onset + model.churn_delay_days(phi, params)).astype(
        np.int64
    )
    life = np.clip(np.minimum(churn_day, D) - signup_day, 0, None)
    n_free = rng.poisson(0.002 * life)
    fc = np.repeat(np.arange(n), n_free)
    f_day = signup_day[fc] + (rng.random(fc.size) * life[fc]).astype(np.int64)
    f_created = period.start_epoch + f_day * SECONDS_PER_DAY + _tod_seconds(rng, fc.size)
    tk_cust = np.concatenate([tk_cust, fc])
    tk_created = np.concatenate([tk_created, f_created])
    tk_cat = np.concatenate([tk_cat, rng.choice([2, 3], size=fc.size)])
    tk_unres = np.concatenate([tk_unres, rng.random(fc.size) < 0.08])
    keep = tk_created < period.end_epoch
    tk_cust, tk_created, tk_cat, tk_unres = (
        tk_cust[keep],
        tk_created[keep],
        tk_cat[keep],
        tk_unres[keep],
    )
    tk_created = _unique_times(tk_cust, tk_created)
    nt = tk_cust.size
    tk_resolved = tk_created + 1800 + rng.exponential(36 * 3600, nt).astype(np.int64)
    tk_resolved_null = tk_unres | (tk_resolved >= period.end_epoch)
    sat_given = np.where(tk_unres, rng.random(nt) < 0.4, rng.random(nt) < 0.55)
    sat = np.where(
        tk_unres,
        rng.choice([1, 2], size=nt),
        rng.choice([2, 3, 4, 5], size=nt, p=[0.1, 0.2, 0.35, 0.35]),
    )
    tickets = pa.table(
        {
            "customer_id": _take(cust_ids, tk_cust),
            "created_at": fmt_ts(tk_created),
            "category": take_strings(TICKET_CATEGORIES, tk_cat),
            "resolved_at": fmt_ts(tk_resolved, mask=tk_resolved_null),
            "satisfaction": int_array(sat, mask=~sat_given),
        }
    )

    # ---------------------------------------------------------------- sessions and events
    events = _events(
        rng,
        period,
        cat(0, s_parts, np.int64).astype(np.int64),
        cat(1, s_parts, np.int32),
        cat(2, s_parts, np.int64).astype(np.int64),
        o_cust,
        ordered_at,
        n_items,
        product,
        it_order,
        cust_num,
        cust_ids,
        product_ids,
        pref_cat,
        pref_device,
        catalog,
    )

    # ---------------------------------------------------------------- email campaigns
    email = _emails(
        rng,
        period,
        campaign_days,
        B_at_campaign,
        signup_day,
        onset,
        phi,
        open_prop,
        cust_ids,
        params,
    )

    # ---------------------------------------------------------------- customers
    signup_at = (
        period.start_epoch + signup_day.astype(np.int64) * SECONDS_PER_DAY + _tod_seconds(rng, n)
    )
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_P)
    city = country * 3 + rng.integers(0, 3, n)
    birth_year = period.end.year - np.clip(rng.normal(38, 12, n), 18, 85).astype(np.int64)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    dom = rng.integers(0, len(EMAIL_DOMAINS), n)
    email_addr = pa.compute.binary_join_element_wise(
        take_strings(FIRST_NAMES, first),
        pa.scalar("."),
        take_strings(LAST_NAMES, last),
        pa.compute.cast(pa.array(cust_num), pa.string()),
        pa.scalar("@"),
        take_strings(EMAIL_DOMAINS, dom),
        pa.scalar(""),
    )
    phone = pa.compute.binary_join_element_wise(
        take_strings(PHONE_PREFIX, country),
        pa.compute.cast(pa.array(rng.integers(100_000_000, 999_999_999, n)), pa.string()),
        pa.scalar(" "),
    )
    customers = pa.table(
        {
            "customer_id": cust_ids,
            "signup_at": fmt_ts(signup_at),
            "gender": take_strings(GENDERS, rng.choice(4, size=n, p=GENDER_P)),
            "birth_year": int_array(birth_year, mask=rng.random(n) < 0.03),
            "country": take_strings(COUNTRIES, country),
            "city": take_strings([c for cs in CITIES for c in cs], city),
            "acquisition_channel": take_strings(CHANNELS, channel),
            "email": email_addr,
            "phone": phone,
        }
    )

    # ---------------------------------------------------------------- truth
    onset_null = onset == NEVER
    customers_truth = pa.table(
        {
            "customer_idx": pa.array(cust_num - 1, pa.int64()),
            "customer_id": customers.column("customer_id"),
            "signup_day": int_array(signup_day),
            "acquisition_channel": customers.column("acquisition_channel"),
            "order_rate": pa.array(lam0),
            "p_cancel": pa.array(p_cancel),
            "p_return": pa.array(p_return),
            "completed_rate": pa.array(lam0 * (1 - p_cancel - p_return)),
            "session_rate": pa.array(browse),
            "engagement": pa.array(z_eng),
            "price_sensitivity": pa.array(price_sens),
            "patience": pa.array(patience),
            "base_hazard": pa.array(h0),
            "fade_days": pa.array(phi),
            "onset_day": int_array(np.where(onset_null, 0, onset), mask=onset_null),
            "churn_day": int_array(np.where(onset_null, 0, churn_day), mask=onset_null),
            "churn_at": fmt_ts(
                period.start_epoch + np.where(onset_null, 0, churn_day) * SECONDS_PER_DAY,
                mask=onset_null,
            ),
        }
    )
    orders_truth = pa.table(
        {
            "order_num": pa.array(order_num, pa.int64()),
            "customer_idx": pa.array(cust_num[o_cust] - 1, pa.int64()),
            "day": int_array(o_day),
            "status": pa.array(o_status, pa.int8()),
            "pre_onset": pa.array(o_pre.astype(bool)),
            "late": pa.array(o_late.astype(bool)),
            "defective": pa.array(o_def.astype(bool)),
            "unresolved_ticket": pa.array(o_unres.astype(bool)),
            "coupon": pa.array(o_coupon.astype(bool)),
            "experience": pa.array(o_exp.astype(np.float32)),
            "jump": pa.array(o_jump),
            "good": pa.array(o_good.astype(bool)),
        }
    )
    tables = {
        "orders": orders,
        "order_items": items,
        "customers": customers,
        "events": events,
        "reviews": reviews,
        "support_tickets": tickets,
        "email_events": email,
    }
    return ChunkResult(tables, customers_truth, orders_truth, m)


def _take(values: pa.Array, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``values[idx]`` (null where `mask`)."""
    idx = np.asarray(idx, dtype=np.int64)
    if mask is not None:
        idx = np.where(mask, 0, idx)
    return values.take(pa.array(idx, mask=mask))


def fmt_coupon(codes: pa.Array, used: np.ndarray) -> pa.Array:
    """Nulls the coupon code of orders without a coupon."""
    return pa.compute.if_else(
        pa.array(~used.astype(bool)), pa.nulls(len(codes), pa.string()), codes
    )


def _unique_times(cust: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Shifts equal (customer, timestamp) pairs by whole seconds until all pairs are distinct."""
    ts = ts.copy()
    for _ in range(100):
        order = np.lexsort((ts, cust))
        c, t = cust[order], ts[order]
        dup = np.zeros(c.size, dtype=bool)
        dup[1:] = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
        if not dup.any():
            break
        ts[order[dup]] += 1
    return ts


def _events(
    rng: np.random.Generator,
    period: Period,
    s_cust: np.ndarray,
    s_day: np.ndarray,
    s_count: np.ndarray,
    o_cust: np.ndarray,
    ordered_at: np.ndarray,
    n_items: np.ndarray,
    product: np.ndarray,
    it_order: np.ndarray,
    cust_num: np.ndarray,
    cust_ids: pa.Array,
    product_ids: pa.Array,
    pref_cat: np.ndarray,
    pref_device: np.ndarray,
    catalog: Catalog,
) -> pa.Table:
    """Browsing sessions (from the daily counts) and one checkout session per order."""
    # Browsing sessions.
    b_cust = np.repeat(s_cust, s_count)
    b_day = np.repeat(s_day.astype(np.int64), s_count)
    nb = b_cust.size
    b_start = period.start_epoch + b_day * SECONDS_PER_DAY + _tod_seconds(rng, nb)
    b_len = 1 + rng.poisson(1.8, nb)
    e_sess = np.repeat(np.arange(nb), b_len)
    e_type = rng.choice(len(BROWSE_EVENTS), size=e_sess.size, p=BROWSE_EVENT_P)
    gaps = 1 + rng.exponential(40.0, e_sess.size).astype(np.int64)
    cum = np.cumsum(gaps)
    sess_first = np.cumsum(b_len) - b_len
    e_ts = b_start[e_sess] + cum - cum[sess_first][e_sess]  # strictly increasing in a session
    P = catalog.size
    needs_product = (
        (e_type == EV_PRODUCT) | (e_type == EV_CART) | (e_type == EV_REMOVE) | (e_type == EV_WISH)
    )
    own = rng.random(e_sess.size) < 0.6
    e_prod = np.where(
        own,
        pref_cat[b_cust[e_sess]] * PRODUCTS_PER_CATEGORY
        + rng.integers(0, PRODUCTS_PER_CATEGORY, e_sess.size),
        rng.integers(0, P, e_sess.size),
    )
    e_prod = np.where(needs_product, e_prod, -1)
    e_cust = b_cust[e_sess]

    # Checkout sessions: page_view, one add_to_cart per item, then checkout.
    no = o_cust.size
    c_len = 2 + n_items
    c_order = np.repeat(np.arange(no), c_len)
    pos = _within_group_index(c_len)
    last = c_len[c_order] - 1
    item_k = pos - 1
    item_first = np.cumsum(n_items) - n_items
    c_type = np.where(pos == 0, EV_PAGE, np.where(pos == last, EV_CHECKOUT, EV_CART))
    item_idx = np.clip(item_first[c_order] + item_k, 0, max(product.size - 1, 0))
    c_prod = np.where((pos == 0) | (pos == last), -1, product[item_idx] if product.size else -1)
    c_gaps = 1 + rng.exponential(35.0, c_order.size).astype(np.int64)
    # Time counted backwards from the order time: checkout is at ordered_at.
    rev_cum = np.cumsum(c_gaps[::-1])[::-1]  # suffix sums over the whole array
    c_first_next = np.cumsum(c_len)  # index after each order's block
    suffix_after = np.append(rev_cum, 0)[c_first_next][c_order]
    c_ts = ordered_at[c_order] - (rev_cum - suffix_after) + c_gaps  # last event: offset 0
    c_cust = o_cust[c_order]

    # Session ids: customer number * SESSION_SEQ + per-customer sequence.
    all_cust = np.concatenate([b_cust, o_cust])
    all_start = np.concatenate([b_start, ordered_at])
    order = np.lexsort((all_start, all_cust))
    seq = np.empty(all_cust.size, dtype=np.int64)
    sorted_c = all_cust[order]
    new_grp = np.ones(sorted_c.size, dtype=bool)
    new_grp[1:] = sorted_c[1:] != sorted_c[:-1]
    grp_start = np.maximum.accumulate(np.where(new_grp, np.arange(sorted_c.size), 0))
    seq[order] = np.arange(sorted_c.size) - grp_start
    sess_num = cust_num[all_cust] * SESSION_SEQ + seq
    dev = np.where(
        rng.random(all_cust.size) < 0.85,
        pref_device[all_cust],
        rng.integers(0, len(DEVICES), all_cust.size),
    )

    ev_sess = np.concatenate([e_sess, nb + c_order])
    ev_cust = np.concatenate([e_cust, c_cust])
    ev_ts = np.concatenate([e_ts, c_ts])
    ev_type = np.concatenate([e_type, c_type])
    ev_prod = np.concatenate([e_prod, c_prod])
    # Duration: time to the next event of the session; the last one gets a random dwell time.
    nxt_same = np.zeros(ev_sess.size, dtype=bool)
    nxt_same[:-1] = ev_sess[1:] == ev_sess[:-1]
    dwell = np.where(
        nxt_same,
        np.append(ev_ts[1:], 0) - ev_ts,
        1 + rng.exponential(30.0, ev_sess.size),
    ) + np.round(rng.random(ev_sess.size), 1)
    dwell = np.round(np.maximum(dwell, 0.1), 1)
    keep = (ev_ts >= period.start_epoch) & (ev_ts < period.end_epoch)
    # Keep the file roughly in time order within the chunk (as an event log would be).
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(ev_ts[idx], kind="stable")]
    return pa.table(
        {
            "customer_id": _take(cust_ids, ev_cust[idx]),
            "occurred_at": fmt_ts(ev_ts[idx]),
            "event_type": take_strings(EVENT_TYPES, ev_type[idx]),
            "session_id": _take(fmt_id("S", sess_num, 12), ev_sess[idx]),
            "product_id": _take(product_ids, ev_prod[idx], mask=ev_prod[idx] < 0),
            "duration_seconds": pa.array(dwell[idx]),
            "device": take_strings(DEVICES, dev[ev_sess[idx]]),
        }
    )


def _emails(
    rng: np.random.Generator,
    period: Period,
    campaign_days: np.ndarray,
    B_at_campaign: np.ndarray,
    signup_day: np.ndarray,
    onset: np.ndarray,
    phi: np.ndarray,
    open_prop: np.ndarray,
    cust_ids: pa.Array,
    params: ModelParams,
) -> pa.Table:
    """Fortnightly campaigns: sent, open, click, unsubscribe."""
    n = signup_day.size
    subscribed = rng.random(n) < 0.85  # opted in at signup
    rows_c, rows_ts, rows_t, rows_k = [], [], [], []
    for k, tc in enumerate(campaign_days):
        tc = int(tc)
        to = np.flatnonzero(subscribed & (signup_day < tc) & (rng.random(n) < 0.8))
        if not to.size:
            continue
        M = model.fade(tc - onset[to].astype(np.int64), phi[to], params)
        Bp = np.clip(B_at_campaign[k, to], 0, 4)
        sent = (
            period.start_epoch + tc * SECONDS_PER_DAY + 9 * 3600 + rng.integers(0, 7200, to.size)
        )
        p_open = open_prop[to] * (0.15 + 0.85 * M) * np.exp(-0.2 * Bp)
        opened = rng.random(to.size) < p_open
        clicked = opened & (rng.random(to.size) < 0.12 + 0.25 * M)
        unsub = rng.random(to.size) < 0.002 + 0.03 * (1 - M) + 0.008 * Bp
        t_open = sent + 60 + rng.exponential(5 * 3600, to.size).astype(np.int64)
        t_click = t_open + rng.integers(5, 900, to.size)
        t_unsub = np.where(opened, t_open, sent) + rng.integers(10, 3600, to.size)
        for mask, ts, typ in (
            (np.ones(to.size, bool), sent, 0),
            (opened, t_open, 1),
            (clicked, t_click, 2),
            (unsub, t_unsub, 3),
        ):
            rows_c.append(to[mask])
            rows_ts.append(ts[mask])
            rows_t.append(np.full(int(mask.sum()), typ, np.int8))
            rows_k.append(np.full(int(mask.sum()), k + 1, np.int64))
        subscribed[to[unsub]] = False
    if rows_c:
        c, ts, typ, kk = (np.concatenate(x) for x in (rows_c, rows_ts, rows_t, rows_k))
    else:
        c = ts = kk = np.zeros(0, np.int64)
        typ = np.zeros(0, np.int8)
    keep = ts < period.end_epoch
    c, ts, typ, kk = c[keep], ts[keep], typ[keep], kk[keep]
    return pa.table(
        {
            "customer_id": _take(cust_ids, c),
            "occurred_at": fmt_ts(ts),
            "event_type": take_strings(EMAIL_TYPES, typ),
            "campaign_id": fmt_id("CMP", kk, 4),
        }
    )
