"""A small random shop with every entity of the raw-data contract, for integration tests.

Deterministic for a seed. Timestamps are spread over the day, including exactly midnight, so the
"before T 00:00 UTC" edges are exercised; second timestamps (delivered_at, resolved_at) can fall
after a cut date, which is what the leakage test needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

START = datetime(2024, 1, 1)
DAYS = 182


def _ts(rng: np.random.Generator, day: np.ndarray) -> list[datetime]:
    # a quarter of the timestamps exactly at midnight, the rest anywhere in the day
    secs = np.where(rng.random(len(day)) < 0.25, 0, rng.integers(0, 86400, len(day)))
    return [START + timedelta(days=int(d), seconds=int(s)) for d, s in zip(day, secs, strict=True)]


def make_shop(n_customers: int = 80, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Every entity as a DataFrame (the contract's column names)."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n_customers)]
    signup_day = rng.integers(-120, DAYS - 20, n_customers)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_at": _ts(rng, signup_day),
            "gender": rng.choice(["female", "male", "other", None], n_customers),
            "birth_year": rng.choice([1960, 1975, 1990, 2001, None], n_customers),
            "country": rng.choice(["DE", "FR", "US", "BR", None], n_customers),
            "city": "x",
            "acquisition_channel": rng.choice(["organic", "email", "tv", None], n_customers),
            "email": [f"{c}@example.com" for c in ids],
            "phone": "+49 1",
        }
    )
    orders, items, events, reviews, tickets, emails = [], [], [], [], [], []
    for i, cid in enumerate(ids):
        first = max(int(signup_day[i]), 0)
        rate = rng.choice([0.01, 0.04, 0.1])  # orders per day
        stop = first + int(rng.integers(10, DAYS + 40))  # the customer churns at some point
        days = [d for d in range(first, min(stop, DAYS)) if rng.random() < rate]
        for n, d in enumerate(days):
            oid = f"{cid}-{n}"
            status = rng.choice(["completed", "completed", "completed", "cancelled", "returned"])
            promised = d + int(rng.integers(2, 5))
            delivered = None if status == "cancelled" else d + int(rng.integers(1, 8))
            orders.append(
                {
                    "order_id": oid,
                    "customer_id": cid,
                    "ordered_at": _ts(rng, np.array([d]))[0],
                    "amount": round(float(rng.uniform(5, 200)), 2),
                    "status": status,
                    "discount_amount": round(float(rng.choice([0, 0, 5.5])), 2),
                    "coupon_code": rng.choice([None, None, "SAVE5"]),
                    "payment_method": "card",
                    "promised_delivery_at": START + timedelta(days=promised, hours=12),
                    "delivered_at": None
                    if delivered is None
                    else START + timedelta(days=delivered, hours=int(rng.integers(0, 24))),
                }
            )
            for p in rng.choice(30, size=int(rng.integers(1, 4)), replace=False):
                items.append(
                    {
                        "order_id": oid,
                        "product_id": f"P{p}",
                        "quantity": int(rng.integers(1, 3)),
                        "unit_price": 9.99,
                        "category": ["books", "toys", "garden"][p % 3],
                    }
                )
            if rng.random() < 0.3:
                reviews.append(
                    {
                        "customer_id": cid,
                        "rating": int(rng.integers(1, 6)),
                        "created_at": _ts(rng, np.array([d + int(rng.integers(3, 15))]))[0],
                        "order_id": oid,
                        "product_id": None,
                        "review_text": "ok",
                    }
                )
        for d in range(first, min(stop + 20, DAYS)):
            if rng.random() < rate * 3:
                sid = f"{cid}-s{d}"
                for _ in range(int(rng.integers(1, 6))):
                    events.append(
                        {
                            "customer_id": cid,
                            "occurred_at": _ts(rng, np.array([d]))[0],
                            "event_type": rng.choice(
                                ["page_view", "search", "product_view", "add_to_cart", "checkout"]
                            ),
                            "session_id": sid,
                            "product_id": None,
                            "duration_seconds": float(rng.integers(5, 300)),
                            "device": "mobile",
                        }
                    )
            if rng.random() < 0.01:
                created = _ts(rng, np.array([d]))[0]
                resolved = (
                    None
                    if rng.random() < 0.3
                    else created + timedelta(hours=int(rng.integers(1, 24 * 12)))
                )
                tickets.append(
                    {
                        "customer_id": cid,
                        "created_at": created,
                        "category": "delivery",
                        "resolved_at": resolved,
                        "satisfaction": None if resolved is None else int(rng.integers(1, 6)),
                    }
                )
            if d % 7 == i % 7:
                kind = rng.choice(
                    ["sent", "open", "click", "unsubscribe"], p=[0.6, 0.25, 0.13, 0.02]
                )
                emails.append(
                    {
                        "customer_id": cid,
                        "occurred_at": _ts(rng, np.array([d]))[0],
                        "event_type": kind,
                        "campaign_id": "c",
                    }
                )
    return {
        "customers": customers,
        "orders": pd.DataFrame(orders),
        "order_items": pd.DataFrame(items),
        "events": pd.DataFrame(events),
        "reviews": pd.DataFrame(reviews),
        "support_tickets": pd.DataFrame(tickets),
        "email_events": pd.DataFrame(emails),
    }


MAIN_TIME = {
    "customers": "signup_at",
    "orders": "ordered_at",
    "events": "occurred_at",
    "reviews": "created_at",
    "support_tickets": "created_at",
    "email_events": "occurred_at",
}


def truncate(shop: dict[str, pd.DataFrame], cut: datetime) -> dict[str, pd.DataFrame]:
    """The shop as an extract taken at `cut` would show it: rows from before the cut only, and
    second timestamps (delivered_at, resolved_at, satisfaction) not yet known are blank."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in shop.items():
        if name in MAIN_TIME:
            df = df[pd.to_datetime(df[MAIN_TIME[name]]) < cut].copy()
        out[name] = df
    orders = out["orders"]
    late = pd.to_datetime(orders["delivered_at"]) >= cut
    orders.loc[late, "delivered_at"] = None
    out["order_items"] = out["order_items"][
        out["order_items"]["order_id"].isin(orders["order_id"])
    ]
    tickets = out["support_tickets"]
    unresolved = pd.to_datetime(tickets["resolved_at"]) >= cut
    tickets.loc[unresolved, ["resolved_at", "satisfaction"]] = None
    return out


def write_shop(shop: dict[str, pd.DataFrame], data_dir: Path) -> Path:
    """Write each entity as CSV (ISO timestamps) into data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, df in shop.items():
        df = df.copy()
        for col in ("birth_year", "satisfaction", "rating", "quantity"):
            if col in df.columns:
                df[col] = pd.array(df[col].tolist(), dtype="Int64")
        df.to_csv(data_dir / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    return data_dir
