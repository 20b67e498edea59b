"""Observable ceiling of the sample shop: the best churn ranking from what a model can see.

The latent ceiling (`churnwatch.sample.truth.true_churn_probability`) knows every customer's
order rate, fade time, onset hazard and, above all, the day ``d`` the disengagement started. A
model sees behaviour only. This script computes, for each customer active at the test snapshot
``T``, the posterior churn probability given the behaviour observed before ``T``, using the
simulator's own priors and process (`churnwatch/sample/model.py`, `simulate.py`): a diagnostic
of what is reachable, never a feature. Its ROC-AUC is the observable ceiling.

The filter (per customer, numpy, vectorised over customers):
    hidden:  the order-rate noise (log lam0 = log(1/22) + 0.25 z + log channel + 0.85 n1,
             capped at 0.5/day: a 60-point trapezoid grid over n1), the session-rate noise
             (browse = lam0 exp(log 0.7 + 0.5 z + 0.3 n2): a Laplace approximation), the
             e-mail open propensity (Beta(2, 4) exp(0.3 z): 6 quantile points), the fade time
             phi (Uniform(10, 35): 4 quantile midpoints) and the onset day d (daily over the
             last 90 days before T, 5-day bins before that, or "not yet": d >= T).
    known (more than a model sees, so the result leans towards an upper bound): the signup
             day, acquisition channel, engagement z, cancel / return probabilities, base hazard
             h0, and every completed order's experience (late, defective, unresolved ticket,
             coupon, the latent experience score, patience, price sensitivity): from these the
             dissatisfaction score B(t) and the last good day g(t) that the customer would have
             if not yet disengaging, hence the onset hazard path that is the prior of d.
    likelihood of the observed history before T:
             orders placed (any status) per day ~ Poisson(lam0 season(t) M(t));
             browsing sessions per day ~ Poisson(browse season(t) M(t) / (1 + 0.3 B+(t)));
             each e-mail campaign sent: opened ~ Bernoulli(prop (0.15 + 0.85 M) e^{-0.2 B+}),
             clicked if opened ~ Bernoulli(0.12 + 0.25 M), unsubscribed ~ Bernoulli(0.002 +
             0.03 (1 - M) + 0.008 B+), with M(t) = fade(t - d; phi) after the onset.
    prediction: for d < T, P(no completed order in [T, T + h)) = exp(-lamc sum season fade);
             for d >= T the onset may still come inside the window: the mixture over the
             window's onset days with the customer's hazard path (as truth.py's recursion).
Approximations: onset days older than 90 days are binned by 5 days (evaluated at the bin's
middle day); after the onset the session and e-mail terms use the dissatisfaction score of the
not-yet-disengaged path (it only matters while activity is already faded); the number of items
per order (basket * (0.5 + 0.5 M)) is not used; sessions and e-mails are read from the data
files as delivered (with the injected defects: rows with unreadable timestamps are dropped),
orders from the truth (before defects).

Output: ROC-AUC / PR-AUC / log loss of the latent ceiling, the observable ceiling, the recency
baseline (`truth.days_since_last_order`) and optionally a model's scores (--scores: a parquet
or csv with customer_id and score), all on the same customers and the simulator's labels.

Example:
    PYTHONPATH=. python bench/observable_ceiling.py --data /tmp/acc3/s42 --snapshot 2026-06-01
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N1 = np.linspace(-4.2, 4.2, 60)  # order-rate noise grid (prior N(0, 1); trapezoid)
PHI = 10.0 + 25.0 * (np.arange(4) + 0.5) / 4  # fade-time quantile midpoints
RECENT_DAYS = 90  # daily onset grid this far back, 5-day bins before
BIN = 5


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", required=True, help="sample shop directory (with _truth/)")
    p.add_argument("--snapshot", required=True, help="test snapshot T, YYYY-MM-DD")
    p.add_argument("--horizon-days", type=int, default=30, help="churn horizon (default 30)")
    p.add_argument("--active-days", type=int, default=180, help="active window (default 180)")
    p.add_argument(
        "--scores",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a model's test scores to put beside (parquet/csv: customer_id, score); repeatable",
    )
    p.add_argument(
        "--know-rate",
        action="store_true",
        help="decomposition: give the filter the true order and session rates (not a ceiling)",
    )
    p.add_argument("--chunk", type=int, default=16, help="customers per numpy chunk (default 16)")
    p.add_argument("--limit", type=int, default=0, help="only the first N customers (testing)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    p.add_argument(
        "--out", metavar="FILE", default=None, help="write per-customer probabilities (parquet)"
    )
    p.add_argument(
        "--reuse",
        metavar="FILE",
        default=None,
        help="read the per-customer table an earlier --out wrote instead of computing it",
    )
    return p.parse_args(argv)


def _days(ts: np.ndarray, start: dt.date) -> np.ndarray:
    """Day index of ISO-8601 UTC timestamp strings (NaN-safe: unreadable -> -1)."""
    import pandas as pd

    t = pd.to_datetime(pd.Series(ts), errors="coerce", utc=True, format="ISO8601")
    d = (t - pd.Timestamp(start, tz="UTC")).dt.days
    return d.fillna(-1).to_numpy(dtype=np.int64)


def _load(args: argparse.Namespace):
    import pandas as pd
    import pyarrow.parquet as pq

    from churnwatch.sample import model, simulate
    from churnwatch.sample import truth as truth_mod

    data = Path(args.data)
    tp = data / "_truth"
    meta = json.loads((tp / "meta.json").read_text())
    truth = truth_mod.load_truth(data)
    params = truth.params
    start = truth.start
    T = (dt.date.fromisoformat(args.snapshot) - start).days
    idx = truth_mod.active_customers(truth, args.snapshot, args.active_days)
    if args.limit:
        idx = idx[: args.limit]
    cust = pq.read_table(tp / "customers_truth.parquet").to_pandas()
    cust = cust.sort_values("customer_idx").reset_index(drop=True).iloc[idx]
    n = len(idx)
    pos = np.full(len(truth.customers), -1)
    pos[idx] = np.arange(n)
    ids = cust["customer_id"].to_numpy().astype(str)
    id_pos = pd.Series(np.arange(n), index=ids)

    o = pq.read_table(tp / "orders_truth.parquet").to_pandas()
    o = o[(o["day"] < T) & (pos[o["customer_idx"].to_numpy()] >= 0)]
    oc = pos[o["customer_idx"].to_numpy()]
    oday = o["day"].to_numpy().astype(np.int64)

    # Dissatisfaction and last good day of the not-yet-disengaged path (from the experiences).
    comp = o["status"].to_numpy() == 0
    pat = cust["patience"].to_numpy()
    ps = cust["price_sensitivity"].to_numpy()
    unres = o["unresolved_ticket"].to_numpy()
    expv = o["experience"].to_numpy().astype(np.float64)
    jump = np.where(
        comp, (expv + 0.9 * unres) / pat[oc] - 0.35 * o["coupon"].to_numpy() * ps[oc], 0.0
    )
    good = comp & ~o["late"].to_numpy() & ~o["defective"].to_numpy() & ~unres & (expv < 0)
    J = np.zeros((n, T))
    np.add.at(J, (oc, oday), jump)
    G = np.zeros((n, T), dtype=bool)
    G[oc[good], oday[good]] = True
    signup = cust["signup_day"].to_numpy().astype(np.int64)
    decay = model.memory_decay(params)
    B = np.zeros((n, T))
    g = np.zeros((n, T), dtype=np.int64)
    b = np.zeros(n)
    last = signup.copy()
    for t in range(T):
        b = b * decay + J[:, t]
        last = np.where(G[:, t], t, last)
        B[:, t] = b
        g[:, t] = last
    h0 = cust["base_hazard"].to_numpy()
    tt = np.arange(T)[None, :]
    haz = model.onset_hazard(h0[:, None], B, tt - g, params)
    q = np.where(tt >= signup[:, None], -np.expm1(-haz), 0.0)

    # Browsing sessions per day (sessions without a checkout event), from the events file.
    ev = pq.read_table(
        data / "events.parquet", columns=["customer_id", "occurred_at", "event_type", "session_id"]
    ).to_pandas()
    ev = ev[ev["customer_id"].isin(id_pos.index)]
    ev["day"] = _days(ev["occurred_at"].to_numpy(), start)
    ev = ev[ev["day"] >= 0]
    checkout = ev.loc[ev["event_type"] == "checkout", "session_id"].unique()
    ses = ev.groupby("session_id").agg(customer_id=("customer_id", "first"), day=("day", "min"))
    ses = ses[~ses.index.isin(checkout) & (ses["day"] < T)]
    sc = id_pos[ses["customer_id"]].to_numpy()
    sday = ses["day"].to_numpy().astype(np.int64)

    # E-mail campaigns: sent (day), opened, clicked, unsubscribed, sent before T - 1.
    em = pq.read_table(data / "email_events.parquet").to_pandas()
    em = em[em["customer_id"].isin(id_pos.index)]
    em["day"] = _days(em["occurred_at"].to_numpy(), start)
    em = em[(em["day"] >= 0) & (em["day"] < T)]
    em = em.drop_duplicates(["customer_id", "campaign_id", "event_type"])
    piv = em.pivot_table(
        index=["customer_id", "campaign_id"], columns="event_type", values="day", aggfunc="min"
    )
    piv = piv[piv["sent"].notna() & (piv["sent"] < T - 1)]
    ec = id_pos[piv.index.get_level_values(0)].to_numpy()
    eday = piv["sent"].to_numpy().astype(np.int64)

    def flag(col: str) -> np.ndarray:
        return piv[col].notna().to_numpy() if col in piv else np.zeros(len(piv), bool)

    season_all = model.season(start, np.arange(T + args.horizon_days))
    chan = pd.Series(simulate.CHANNEL_LAMBDA, index=simulate.CHANNELS)
    return dict(
        params=params,
        T=T,
        n=n,
        ids=ids,
        idx=idx,
        truth=truth,
        signup=signup,
        z=cust["engagement"].to_numpy(),
        order_rate=cust["order_rate"].to_numpy(),
        session_rate=cust["session_rate"].to_numpy(),
        chan=chan[cust["acquisition_channel"]].to_numpy(),
        keep=1.0 - cust["p_cancel"].to_numpy() - cust["p_return"].to_numpy(),
        h0=h0,
        B=B,
        g=g,
        q=q,
        oc=oc,
        oday=oday,
        sc=sc,
        sday=sday,
        ec=ec,
        eday=eday,
        opened=flag("open"),
        clicked=flag("click"),
        unsub=flag("unsubscribe"),
        season=season_all,
        seed=meta["seed"],
    )


def browse_marginal(S: np.ndarray, E: np.ndarray, m: np.ndarray, sd: float = 0.3) -> np.ndarray:
    """log of the integral over u ~ N(m, sd^2) of exp(S u - E e^u) (Laplace approximation).

    The session likelihood of a Poisson count S with exposure E at the rate e^u, with the
    lognormal prior of the session rate around the order rate; the exponent is concave in u, so
    Newton from the precision-weighted start converges in a few steps.
    """
    v = sd * sd
    E = np.maximum(E, 1e-12)
    u = (m / v + (S + 0.5) * np.log((S + 0.5) / E)) / (1.0 / v + S + 0.5)
    for _ in range(6):
        eu = E * np.exp(u)
        step = (S - eu - (u - m) / v) / (eu + 1.0 / v)
        u = u + np.clip(step, -2.0, 2.0)
    eu = E * np.exp(u)
    return S * u - eu - (u - m) ** 2 / (2 * v) - 0.5 * np.log(v * (eu + 1.0 / v))


def onset_grid(T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onset hypotheses: (evaluation day, first day, last day) per bin; the last is d >= T."""
    recent = np.arange(T - RECENT_DAYS, T)
    lo = np.arange(0, T - RECENT_DAYS, BIN)
    hi = np.minimum(lo + BIN, T - RECENT_DAYS) - 1
    first = np.concatenate([lo, recent, [T]])
    last = np.concatenate([hi, recent, [T]])
    mid = np.concatenate([(lo + hi) // 2, recent, [T]])
    return mid, first, last


def observable_probability(
    D: dict, horizon: int, chunk: int, log=print, know_rate: bool = False
) -> np.ndarray:
    """Posterior P(churned | behaviour before T) for every loaded customer (see module doc).

    With `know_rate` the order and session rates are taken from the truth instead of being
    inferred (a decomposition of the gap, not a ceiling).
    """
    from scipy import sparse, stats

    from churnwatch.sample import model

    params = D["params"]
    T, n = D["T"], D["n"]
    s_all = D["season"]
    season = s_all[:T]
    win = s_all[T : T + horizon]
    mid, first, last = onset_grid(T)
    K = mid.size  # onset hypotheses, the last one "not yet"
    P = PHI.size
    cum_season = np.concatenate([[0.0], np.cumsum(season)])

    # Common to all customers, per (hypothesis, phi): faded part of the order exposure before T
    # and the window exposure F (d < T) or, for d >= T, the exposure per in-window onset day.
    t_all = np.arange(T)
    post_o = np.zeros((K, P))
    F = np.zeros((K, P))
    for p_i, ph in enumerate(PHI):
        for k in range(K - 1):
            d = mid[k]
            post_o[k, p_i] = (season[d + 1 :] * model.fade(t_all[d + 1 :] - d, ph, params)).sum()
            F[k, p_i] = (win * model.fade(np.arange(T, T + horizon) - d, ph, params)).sum()
    jj = np.arange(horizon)
    Gw = np.zeros((horizon, P))  # onset at the end of window day j
    for p_i, ph in enumerate(PHI):
        for j in range(horizon):
            Gw[j, p_i] = (
                win[: j + 1].sum() + (win[j + 1 :] * model.fade(jj[j + 1 :] - j, ph, params)).sum()
            )
    G_never = win.sum()

    # Quadrature over the hidden rates and the e-mail open propensity.
    w1 = stats.norm.pdf(N1)
    w1 = w1 / w1.sum()
    op_u = (np.arange(6) + 0.5) / 6
    op_base = stats.beta.ppf(op_u, 2.0, 4.0)

    # Per-customer sufficient statistics of events: sum of log M over the events after d.
    def per_customer(c: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Sum of the rows of `values` by customer (a sparse product, not np.add.at)."""
        A = sparse.csr_matrix((np.ones(c.size), (c, np.arange(c.size))), shape=(n, c.size))
        return np.asarray(A @ values)

    def log_m_sum(c: np.ndarray, day: np.ndarray) -> np.ndarray:
        out = np.zeros((n, K, P))
        for p_i, ph in enumerate(PHI):
            for s in range(0, c.size, 50_000):
                cc, dd = c[s : s + 50_000], day[s : s + 50_000]
                k = dd[:, None] - mid[None, :-1]
                lm = np.log(model.fade(k, ph, params))  # 0 where k <= 0
                out[:, :-1, p_i] += per_customer(cc, lm)
        return out

    t0 = time.perf_counter()
    Lo = log_m_sum(D["oc"], D["oday"])
    Ls = log_m_sum(D["sc"], D["sday"])
    No = np.bincount(D["oc"], minlength=n).astype(np.float64)
    Ns = np.bincount(D["sc"], minlength=n).astype(np.float64)
    log(f"  event sums {time.perf_counter() - t0:.0f}s")

    # Session exposure per customer: sum season(t) M(t) / (1 + 0.3 B+(t)) over [signup, T).
    a_s = season[None, :] / (1.0 + 0.3 * np.maximum(D["B"], 0.0))
    a_s = np.where(t_all[None, :] >= D["signup"][:, None], a_s, 0.0)
    cum_as = np.concatenate([np.zeros((n, 1)), np.cumsum(a_s, axis=1)], axis=1)
    Es = np.zeros((n, K, P))
    for p_i, ph in enumerate(PHI):
        r = np.exp(-1.0 / ph)
        X = np.zeros((n, T + 1))  # X[:, d] = sum_{t > d} a(t) exp(-(t - d)/phi)
        for d in range(T - 2, -1, -1):
            X[:, d] = r * (a_s[:, d + 1] + X[:, d + 1])
        f = params.fade_floor
        for k in range(K - 1):
            d = mid[k]
            Es[:, k, p_i] = (
                cum_as[:, d + 1] + f * (cum_as[:, T] - cum_as[:, d + 1]) + (1 - f) * X[:, d]
            )
        Es[:, K - 1, p_i] = cum_as[:, T]
    # Hypotheses before the signup are impossible; the pre-onset part starts at the signup.
    Eo = np.zeros((n, K, P))
    s_idx = D["signup"]
    for k in range(K - 1):
        d = mid[k]
        Eo[:, k, :] = (cum_season[d + 1] - cum_season[np.minimum(s_idx, d + 1)])[:, None] + post_o[
            k
        ][None, :]
    Eo[:, K - 1, :] = (cum_season[T] - cum_season[s_idx])[:, None]
    log(f"  exposures {time.perf_counter() - t0:.0f}s")

    # E-mail log-likelihood per (customer, hypothesis, phi), open propensity integrated out.
    Bplus = np.clip(D["B"], 0.0, 4.0)
    ec, eday = D["ec"], D["eday"]
    eB = Bplus[ec, eday]
    Em = np.zeros((n, K, P))
    zfac = np.exp(0.3 * D["z"])
    for p_i, ph in enumerate(PHI):
        M = model.fade(eday[:, None] - mid[None, :], ph, params)  # (events, K); never -> 1
        M[:, -1] = 1.0
        pc = 0.12 + 0.25 * M
        pu = np.clip(0.002 + 0.03 * (1 - M) + 0.008 * eB[:, None], 1e-9, 1)
        base = np.where(
            D["clicked"][:, None], np.log(pc), np.where(D["opened"][:, None], np.log1p(-pc), 0.0)
        )
        base += np.where(D["unsub"][:, None], np.log(pu), np.log1p(-pu))
        acc = np.zeros((n, K, op_u.size))
        for u, ob in enumerate(op_base):
            prop = np.clip(ob * zfac[ec], 0.0, 0.95)
            po = np.clip(
                prop[:, None] * (0.15 + 0.85 * M) * np.exp(-0.2 * eB)[:, None], 1e-9, 1 - 1e-9
            )
            ll = np.where(D["opened"][:, None], np.log(po), np.log1p(-po))
            acc[:, :, u] = per_customer(ec, ll)
        Em[:, :, p_i] = np.log(
            np.exp(acc - acc.max(axis=2, keepdims=True)).mean(axis=2)
        ) + acc.max(axis=2)
        Em[:, :, p_i] += per_customer(ec, base)
    log(f"  e-mails {time.perf_counter() - t0:.0f}s")

    # Prior of the onset hypothesis: the hazard path (bins sum the daily probabilities).
    q = D["q"]
    log_surv = np.concatenate([np.zeros((n, 1)), np.cumsum(np.log1p(-q), axis=1)], axis=1)
    p_day = np.exp(log_surv[:, :T]) * q  # P(d = t)
    cp = np.concatenate([np.zeros((n, 1)), np.cumsum(p_day, axis=1)], axis=1)
    prior = np.empty((n, K))
    prior[:, :-1] = cp[:, last[:-1] + 1] - cp[:, first[:-1]]
    prior[:, -1] = np.exp(log_surv[:, T])
    with np.errstate(divide="ignore"):
        logprior = np.log(prior)

    # In-window onset probabilities for the d >= T hypothesis (customer's hazard path).
    decay = model.memory_decay(params)
    BT = D["B"][:, T - 1]
    gT = D["g"][:, T - 1]
    a = np.ones(n)
    ww = np.zeros((n, horizon + 1))
    for j in range(horizon):
        hz = model.onset_hazard(D["h0"], BT * decay ** (j + 1), T + j - gT, params)
        qq = -np.expm1(-hz)
        ww[:, j] = a * qq
        a = a * (1 - qq)
    ww[:, horizon] = a
    Gfull = np.concatenate([Gw, np.full((1, P), G_never)], axis=0)  # (horizon + 1, P)

    mu = np.log(1 / 22) + 0.25 * D["z"] + np.log(D["chan"])
    out = np.empty(n)
    log_phi_prior = -np.log(P)
    for s in range(0, n, chunk):
        sl = slice(s, min(s + chunk, n))
        m = sl.stop - sl.start
        if know_rate:
            lam = D["order_rate"][sl, None]  # (m, 1)
            logw = np.zeros(1)
        else:
            lam = np.minimum(np.exp(mu[sl, None] + 0.85 * N1[None, :]), 0.5)  # (m, L)
            logw = np.log(w1)
        # log-likelihood over (m, K, P, L)
        ll = (
            logprior[sl][:, :, None, None]
            + log_phi_prior
            + (Lo[sl] + Ls[sl] + Em[sl])[:, :, :, None]
            + No[sl, None, None, None] * np.log(lam)[:, None, None, :]
            - lam[:, None, None, :] * Eo[sl][:, :, :, None]
            + logw[None, None, None, :]
        )
        # sessions: the browse-rate noise integrated out (Laplace), browse = lam * ratio
        if know_rate:
            br = D["session_rate"][sl, None, None, None]
            ll += Ns[sl, None, None, None] * np.log(br) - br * Es[sl][:, :, :, None]
        else:
            prior_mean = np.log(lam) + np.log(0.7) + 0.5 * D["z"][sl, None]  # (m, L)
            ll += browse_marginal(
                Ns[sl, None, None, None], Es[sl][:, :, :, None], prior_mean[:, None, None, :]
            )
        lamc = lam * D["keep"][sl, None]  # completed-order rate
        pred = np.empty((m, K, P, lam.shape[1]))
        pred[:, :-1] = np.exp(-lamc[:, None, None, :] * F[None, :-1, :, None])
        pred[:, -1] = np.einsum(
            "mj,mjpl->mpl",
            ww[sl],
            np.exp(-lamc[:, None, None, :] * Gfull[None, :, :, None]),
        )
        mx = np.max(ll.reshape(m, -1), axis=1)
        w = np.exp(ll - mx[:, None, None, None])
        out[sl] = (w * pred).reshape(m, -1).sum(axis=1) / w.reshape(m, -1).sum(axis=1)
    log(f"  posterior {time.perf_counter() - t0:.0f}s")
    return out


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    import pandas as pd

    from churnwatch.sample import truth as truth_mod
    from models_py import metrics

    t0 = time.perf_counter()
    if args.reuse:
        df = pd.read_parquet(args.reuse)
        seed = json.loads((Path(args.data) / "_truth" / "meta.json").read_text())["seed"]
    else:
        D = _load(args)
        seed = D["seed"]
        print(
            f"loaded {D['n']} active customers at {args.snapshot} in "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        truth = D["truth"]
        h, a = args.horizon_days, args.active_days
        lab = truth_mod.empirical_churn_labels(truth, args.snapshot, h, a)
        lat = truth_mod.true_churn_probability(truth, args.snapshot, h, a)
        rec = truth_mod.days_since_last_order(truth, args.snapshot, a)
        df = pd.DataFrame({"customer_id": D["ids"]})
        df = df.merge(lab, on="customer_id").merge(lat, on="customer_id")
        df = df.merge(rec, on="customer_id")
        df["p_observable"] = observable_probability(
            D, h, args.chunk, log=lambda m: print(m, flush=True), know_rate=args.know_rate
        )
        if args.out:
            df.to_parquet(args.out, index=False)
    for spec in args.scores:
        name, _, path = spec.partition("=")
        s = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
        df[name] = df[["customer_id"]].merge(s, on="customer_id", how="left")["score"].to_numpy()
    if args.scores:  # every row on the same customers: those every model scored
        n_all = len(df)
        df = df.dropna().reset_index(drop=True)
        print(f"{len(df)} of {n_all} customers have every model's score")
    y = df["is_churned"].to_numpy()
    rows = {
        "latent ceiling (true churn probability)": df["p_churn"].to_numpy(),
        (
            "posterior given behaviour and the true rates (--know-rate)"
            if args.know_rate
            else "observable ceiling (posterior given behaviour)"
        ): df["p_observable"].to_numpy(),
        "recency (days since last order or signup)": df["recency_days"].to_numpy(float),
    }
    for spec in args.scores:
        name = spec.partition("=")[0]
        rows[name] = df[name].to_numpy(float)
    res = {"snapshot": args.snapshot, "customers": int(len(df)), "churn_rate": float(y.mean())}
    print(f"\n{len(df)} customers, churn rate {y.mean():.3f}, seed {seed}")
    print("| scorer | customers | ROC-AUC | PR-AUC | log loss | mean p | ECE (10 bins) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s in rows.items():
        ok = ~np.isnan(s)
        r = {
            "customers": int(ok.sum()),
            "roc_auc": metrics.roc_auc(y[ok], s[ok]),
            "pr_auc": metrics.pr_auc(y[ok], s[ok]),
        }
        if name.startswith(("latent", "observable", "posterior")):
            p = np.clip(s[ok], 1e-7, 1 - 1e-7)
            r["log_loss"] = float(-np.mean(y[ok] * np.log(p) + (1 - y[ok]) * np.log(1 - p)))
            r["mean_p"] = float(p.mean())
            # calibration: a correct posterior is calibrated (10 equal-count bins)
            order = np.argsort(p)
            bins = np.array_split(order, 10)
            r["ece_10"] = float(
                sum(abs(p[b].mean() - y[ok][b].mean()) * b.size for b in bins) / p.size
            )
        res[name] = r
        ll = f"{r['log_loss']:.4f}" if "log_loss" in r else ""
        mp = f"{r['mean_p']:.3f} | {r['ece_10']:.4f}" if "mean_p" in r else " | "
        print(
            f"| {name} | {r['customers']} | {r['roc_auc']:.4f} | {r['pr_auc']:.4f} | {ll} | {mp} |"
        )
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
