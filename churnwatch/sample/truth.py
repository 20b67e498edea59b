"""Ground truth of the sample shop: the true churn probability and the empirical label.

The label (docs: "Churn definition"): a customer is *active* at snapshot ``T`` if they have a
completed order in ``[T - active_days, T)`` or signed up in that window; they are *churned* if
they have no completed order in ``[T, T + horizon_days)``.

`true_churn_probability` gives ``P(churned | latent state up to T)`` exactly (up to float
rounding), computed from the latent model of `model.py`:

* If the customer's onset day ``d < T`` (already disengaging), completed orders in the window
  are Poisson with known intensity, so ``p = exp(-sum_t lamc * season(t) * fade(t - d))``.
* Otherwise the onset may still happen inside the window. On the event "no completed order in
  the window" the dissatisfaction score only decays and the days since the last good experience
  grow, so the onset hazard on each day is known. A recursion over the days of the window keeps
  the probability mass "not yet onset" and the mass "onset on day j" (whose later days have the
  faded intensity), and sums them at the end.

This is the Bayes-optimal prediction given everything that happened up to ``T`` (latent traits
included), so its ROC-AUC is a ceiling for any model that sees only data before ``T``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from churnwatch.sample import model
from churnwatch.sample.model import ModelParams


@dataclass
class Truth:
    """The ground truth written beside a sample (``DIR/_truth``).

    Attributes:
        start: Date of day index 0.
        days: Length of the period.
        params: Model parameters used for generation.
        customers: One row per customer (``customers_truth.parquet``).
        orders: One row per order before defects (``orders_truth.parquet``).
    """

    start: dt.date
    days: int
    params: ModelParams
    customers: pd.DataFrame
    orders: pd.DataFrame


def load_truth(path: str | Path | Truth) -> Truth:
    """Loads the truth from a sample directory or its ``_truth`` subdirectory.

    Args:
        path: ``DIR`` or ``DIR/_truth`` (or an already loaded `Truth`, returned as is).

    Returns:
        The truth, customers indexed by position = ``customer_idx``.
    """
    if isinstance(path, Truth):
        return path
    p = Path(path)
    if (p / "_truth").is_dir():
        p = p / "_truth"
    meta = json.loads((p / "meta.json").read_text())
    customers = pq.read_table(p / "customers_truth.parquet").to_pandas()
    customers = customers.sort_values("customer_idx").reset_index(drop=True)
    if not np.array_equal(customers["customer_idx"].to_numpy(), np.arange(len(customers))):
        raise ValueError("customers_truth.parquet: customer_idx must be 0..n-1")
    orders = pq.read_table(
        p / "orders_truth.parquet",
        columns=["order_num", "customer_idx", "day", "status", "pre_onset", "jump", "good"],
    ).to_pandas()
    return Truth(
        start=dt.date.fromisoformat(meta["start_date"]),
        days=int(meta["days"]),
        params=ModelParams(**meta["model_params"]),
        customers=customers,
        orders=orders,
    )


def _day(truth: Truth, snapshot: dt.date | str) -> int:
    if isinstance(snapshot, str):
        snapshot = dt.date.fromisoformat(snapshot)
    if isinstance(snapshot, dt.datetime):
        snapshot = snapshot.date()
    return (snapshot - truth.start).days


def active_customers(truth: Truth, snapshot: dt.date | str, active_days: int = 180) -> np.ndarray:
    """Customer indices active at the snapshot (completed order or signup in the window).

    Args:
        truth: The loaded truth.
        snapshot: The snapshot date ``T`` (midnight UTC).
        active_days: Length of the activity window before ``T``.

    Returns:
        Sorted customer indices.
    """
    T = _day(truth, snapshot)
    o = truth.orders
    done = o["status"].to_numpy() == 0
    day = o["day"].to_numpy()
    in_win = done & (day >= T - active_days) & (day < T)
    act = np.zeros(len(truth.customers), dtype=bool)
    act[o["customer_idx"].to_numpy()[in_win]] = True
    s = truth.customers["signup_day"].to_numpy()
    act |= (s >= T - active_days) & (s < T)
    return np.flatnonzero(act)


def empirical_churn_labels(
    truth: str | Path | Truth,
    snapshot: dt.date | str,
    horizon_days: int = 30,
    active_days: int = 180,
) -> pd.DataFrame:
    """The churn label computed from the generated (clean) orders.

    Args:
        truth: Sample directory, ``_truth`` directory or loaded `Truth`.
        snapshot: Snapshot date ``T``.
        horizon_days: Label horizon.
        active_days: Activity window.

    Returns:
        DataFrame(customer_id, is_churned) for the customers active at ``T``.
    """
    truth = load_truth(truth)
    T = _day(truth, snapshot)
    idx = active_customers(truth, snapshot, active_days)
    o = truth.orders
    day = o["day"].to_numpy()
    hit = (o["status"].to_numpy() == 0) & (day >= T) & (day < T + horizon_days)
    bought = np.zeros(len(truth.customers), dtype=bool)
    bought[o["customer_idx"].to_numpy()[hit]] = True
    return pd.DataFrame(
        {"customer_id": truth.customers["customer_id"].to_numpy()[idx], "is_churned": ~bought[idx]}
    )


def days_since_last_order(
    truth: str | Path | Truth, snapshot: dt.date | str, active_days: int = 180
) -> pd.DataFrame:
    """Recency baseline: days since the last completed order (or signup) before ``T``.

    Returns:
        DataFrame(customer_id, recency_days) for the customers active at ``T``.
    """
    truth = load_truth(truth)
    T = _day(truth, snapshot)
    idx = active_customers(truth, snapshot, active_days)
    o = truth.orders
    day = o["day"].to_numpy()
    done = (o["status"].to_numpy() == 0) & (day < T)
    last = truth.customers["signup_day"].to_numpy().astype(np.int64).copy()
    np.maximum.at(last, o["customer_idx"].to_numpy()[done], day[done].astype(np.int64))
    return pd.DataFrame(
        {
            "customer_id": truth.customers["customer_id"].to_numpy()[idx],
            "recency_days": T - last[idx],
        }
    )


def true_churn_probability(
    truth: str | Path | Truth,
    snapshot: dt.date | str,
    horizon_days: int = 30,
    active_days: int = 180,
) -> pd.DataFrame:
    """True probability of the churn label given the latent state at the snapshot.

    Args:
        truth: Sample directory, ``_truth`` directory or loaded `Truth`.
        snapshot: Snapshot date ``T`` (midnight UTC, day index from the period start).
        horizon_days: Label horizon.
        active_days: Activity window that decides who is scored.

    Returns:
        DataFrame(customer_id, p_churn) for the customers active at ``T``, in customer order.
    """
    truth = load_truth(truth)
    params = truth.params
    T = _day(truth, snapshot)
    idx = active_customers(truth, snapshot, active_days)
    c = truth.customers
    lamc = c["completed_rate"].to_numpy()[idx]
    phi = c["fade_days"].to_numpy()[idx]
    h0 = c["base_hazard"].to_numpy()[idx]
    onset = c["onset_day"].to_numpy(dtype=np.float64, na_value=np.inf)[idx]
    signup = c["signup_day"].to_numpy().astype(np.int64)

    # State at the start of day T from the orders before T: dissatisfaction, last good day.
    o = truth.orders
    day = o["day"].to_numpy().astype(np.int64)
    before = day < T
    cust = o["customer_idx"].to_numpy()
    decay = model.memory_decay(params)
    w = o["jump"].to_numpy() * np.power(decay, (T - 1 - day).clip(0))
    B_all = np.bincount(cust[before], weights=w[before], minlength=len(c))
    good = before & o["good"].to_numpy()
    last_good = signup.copy()
    np.maximum.at(last_good, cust[good], day[good])
    B = B_all[idx]
    g = last_good[idx]

    h = horizon_days
    window = T + np.arange(h)
    season = model.season(truth.start, window)
    post = onset < T
    p = np.empty(idx.size)

    # Already disengaging: Poisson with the faded intensity.
    if post.any():
        k = window[None, :] - onset[post][:, None]
        lam = lamc[post][:, None] * season[None, :] * model.fade(k, phi[post][:, None], params)
        p[post] = np.exp(-lam.sum(axis=1))

    # Not yet: recursion over the days of the window.
    pre = ~post
    if pre.any():
        lc, ph, hz, Bp, gp = lamc[pre], phi[pre], h0[pre], B[pre], g[pre]
        a = np.ones(lc.size)  # P(no completed order so far, no onset yet)
        b = np.zeros((lc.size, h))  # P(no completed order so far, onset at end of day T+j)
        for j in range(h):
            t = T + j
            if j:
                k = j - np.arange(j)  # days after onset for onsets on days T..T+j-1
                b[:, :j] *= np.exp(
                    -lc[:, None] * season[j] * model.fade(k[None, :], ph[:, None], params)
                )
            a *= np.exp(-lc * season[j])
            hazard = model.onset_hazard(hz, Bp * decay ** (j + 1), t - gp, params)
            q = -np.expm1(-hazard)
            b[:, j] = a * q
            a *= 1.0 - q
        p[pre] = a + b.sum(axis=1)
    return pd.DataFrame({"customer_id": c["customer_id"].to_numpy()[idx], "p_churn": p})
