"""Synthetic `main.training_examples` + `main.feature_catalog` for tests and benchmarks.

Weekly snapshots of a fixed customer base; each customer has a latent engagement that drifts a
little per week. Features include heavy-tailed counts (recency, orders, revenue), a flag, and
noise; churn depends on them through a logistic model with one interaction, so a linear model
learns most of the signal and an MLP a little more.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa

BASE_FEATURES: tuple[str, ...] = (
    "days_since_last_order",
    "orders_90d",
    "revenue_90d",
    "days_since_signup",
    "support_tickets_90d",
    "used_coupon_90d",
    "avg_review_rating",
    "email_open_rate_90d",
)


def feature_list(n_features: int) -> list[str]:
    """`n_features` names: the realistic base ones, then `noise_NN`."""
    names = list(BASE_FEATURES[:n_features])
    names += [f"noise_{i:02d}" for i in range(n_features - len(names))]
    return names


def make_examples(
    n_customers: int = 200,
    n_snapshots: int = 30,
    n_features: int = 8,
    *,
    seed: int = 0,
    start: dt.date = dt.date(2024, 1, 1),
    interval_days: int = 7,
) -> tuple[pa.Table, list[str]]:
    """Generate the training_examples rows as an Arrow table.

    Returns:
        (table, feature_names); the table has customer_id, snapshot_date, one float64 column per
        feature, `features` (fixed-size list of float32) and is_churned.
    """
    if n_features < 3:
        raise ValueError("n_features must be >= 3")
    rng = np.random.default_rng(seed)
    names = feature_list(n_features)
    n = n_customers * n_snapshots
    c = np.tile(np.arange(n_customers), n_snapshots)
    s = np.repeat(np.arange(n_snapshots), n_customers)
    base = rng.normal(size=n_customers)
    walk = np.cumsum(rng.normal(scale=0.15, size=(n_snapshots, n_customers)), axis=0)
    u = (base[None, :] + walk).ravel()  # engagement, row order = snapshot-major
    cols: dict[str, np.ndarray] = {}
    recency = np.exp(rng.normal(3.0 - 0.9 * u, 0.6))
    orders = rng.poisson(np.exp(0.6 + 0.6 * u)).astype(np.float64)
    revenue = orders * np.exp(rng.normal(3.5, 0.6, size=n))
    signup = rng.uniform(30, 900, size=n_customers)[c] + interval_days * s
    tickets = rng.poisson(0.3 + 0.3 * (u < -1), size=n).astype(np.float64)
    coupon = (rng.uniform(size=n) < 0.3).astype(np.float64)
    rating = np.clip(np.round(rng.normal(4.0 + 0.3 * u, 0.8)), 1, 5)
    opens = np.clip(rng.beta(2, 5, size=n) + 0.1 * u, 0, 1)
    base_cols = [recency, orders, revenue, signup, tickets, coupon, rating, opens]
    for name, col in zip(names, base_cols):
        cols[name] = col
    for name in names[len(base_cols) :]:
        cols[name] = rng.normal(size=n)
    z_rec = (np.log1p(recency) - 3.0) / 0.9
    z_ord = (np.log1p(orders) - 1.0) / 0.6
    logit = -1.6 + 1.1 * z_rec - 0.6 * z_ord
    if n_features > 4:
        logit += 0.4 * tickets
    if n_features > 5:
        logit += 0.8 * coupon * (z_rec > 0.5)  # interaction: lapsed coupon users churn more
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    order = np.lexsort((c, s))  # already sorted by snapshot then customer
    dates = np.datetime64(start, "D") + (s * interval_days).astype("timedelta64[D]")
    X = np.column_stack([cols[nm] for nm in names]).astype(np.float32)
    arrays: dict[str, pa.Array] = {
        "customer_id": pa.array([f"c{i:07d}" for i in c[order]]),
        "snapshot_date": pa.array(dates[order]),
    }
    for j, nm in enumerate(names):
        arrays[nm] = pa.array(X[order, j].astype(np.float64))
    arrays["features"] = pa.FixedSizeListArray.from_arrays(pa.array(X[order].ravel()), n_features)
    arrays["is_churned"] = pa.array(y[order])
    return pa.table(arrays), names


def write_training_examples(
    con: duckdb.DuckDBPyConnection, table: pa.Table, feature_names: list[str]
) -> None:
    """(Re)create `main.training_examples` and `main.feature_catalog` from an Arrow table."""
    n = len(feature_names)
    catalog = pa.table(
        {
            "position": pa.array(range(1, n + 1), pa.int32()),
            "feature_name": pa.array(feature_names),
        }
    )
    cols = ", ".join(f'"{nm}"::DOUBLE as "{nm}"' for nm in feature_names)
    con.register("_synthetic_examples", table)
    con.register("_synthetic_catalog", catalog)
    try:
        con.execute(
            "create or replace table main.training_examples as select "
            "customer_id::VARCHAR as customer_id, snapshot_date::DATE as snapshot_date, "
            f"{cols}, features::FLOAT[{n}] as features, is_churned::BOOLEAN as is_churned "
            "from _synthetic_examples"
        )
        con.execute(
            "create or replace table main.feature_catalog as select "
            "position::INTEGER as position, feature_name::VARCHAR as feature_name "
            "from _synthetic_catalog"
        )
    finally:
        con.unregister("_synthetic_examples")
        con.unregister("_synthetic_catalog")


def create_synthetic_db(
    db_path: str,
    n_customers: int = 200,
    n_snapshots: int = 30,
    n_features: int = 8,
    *,
    seed: int = 0,
) -> list[str]:
    """Write synthetic training_examples + feature_catalog into the DuckDB file `db_path`.

    Returns:
        The feature names.
    """
    table, names = make_examples(n_customers, n_snapshots, n_features, seed=seed)
    with duckdb.connect(db_path) as con:
        write_training_examples(con, table, names)
    return names
