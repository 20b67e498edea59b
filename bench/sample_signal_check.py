"""Does behaviour carry signal beyond recency? A quick check on a generated sample (Parquet).

Builds a few features from the raw files (DuckDB, only data before each snapshot): recency,
completed orders in 180 days, sessions events in 14/90 days, late deliveries, unsubscribes,
e-mail opens in 60 days. Trains a gradient-boosting classifier on three earlier snapshots and
reports the test ROC-AUC at a later snapshot for recency alone, recency + frequency, all
features, and the ground-truth ceiling. Small samples only (correlated subqueries).

Usage:
    PYTHONPATH=. python bench/sample_signal_check.py DIR
"""

import argparse
import datetime as dt

import duckdb
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from churnwatch.sample import truth as tr

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("dir", help="sample directory written with --format parquet")
D = ap.parse_args().dir
T = tr.load_truth(D)
con = duckdb.connect()


def feats(snap):
    s = snap.isoformat()
    q = f"""
    with ev as (select customer_id, try_cast(occurred_at as timestamp) ts from '{D}/events.parquet'),
    em as (select customer_id, lower(trim(event_type)) et, try_cast(occurred_at as timestamp) ts from '{D}/email_events.parquet'),
    o as (select customer_id, try_cast(ordered_at as timestamp) ts, amount, lower(trim(status)) st,
                 try_cast(delivered_at as timestamp) dl, try_cast(promised_delivery_at as timestamp) pr from '{D}/orders.parquet')
    select c.customer_id,
      (select count(*) from ev where ev.customer_id=c.customer_id and ts >= timestamp '{s}' - interval 14 day and ts < timestamp '{s}') ev14,
      (select count(*) from ev where ev.customer_id=c.customer_id and ts >= timestamp '{s}' - interval 90 day and ts < timestamp '{s}') ev90,
      (select count(*) from o where o.customer_id=c.customer_id and ts < timestamp '{s}' and ts >= timestamp '{s}' - interval 180 day and st='completed') n180,
      (select count(*) from o where o.customer_id=c.customer_id and ts < timestamp '{s}' and dl > pr and dl < timestamp '{s}') nlate,
      (select count(*) from em where em.customer_id=c.customer_id and ts < timestamp '{s}' and et='unsubscribe') unsub,
      (select count(*) from em where em.customer_id=c.customer_id and ts < timestamp '{s}' and ts >= timestamp '{s}' - interval 60 day and et='open') open60
    from (select unnest(?::varchar[]) customer_id) c
    """
    lab = tr.empirical_churn_labels(T, snap, 30)
    rec = tr.days_since_last_order(T, snap)
    f = con.execute(q, [list(lab.customer_id)]).df()
    f = lab.merge(rec).merge(f)
    f["p"] = tr.true_churn_probability(T, snap, 30).p_churn.to_numpy()
    return f


end = T.start + dt.timedelta(days=T.days - 1)
tr_ = pd.concat([feats(end - dt.timedelta(days=b)) for b in (150, 120, 90)])
te = feats(end - dt.timedelta(days=45))
cols = ["recency_days", "ev14", "ev90", "n180", "nlate", "unsub", "open60"]
for use in (["recency_days"], ["recency_days", "n180"], cols):
    m = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05).fit(
        tr_[use], tr_.is_churned
    )
    print(use, round(roc_auc_score(te.is_churned, m.predict_proba(te[use])[:, 1]), 3))
print("ceiling", round(roc_auc_score(te.is_churned, te.p), 3), "n", len(te))
