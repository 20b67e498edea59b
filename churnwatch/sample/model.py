"""The latent behaviour model shared by the simulator and the ground truth.

Both `simulate.py` (which draws the data) and `truth.py` (which computes the true churn
probability) call the functions here, so the formula in the truth cannot drift from the process
that generated the data.

The model, in days (day 0 is the first day of the period, day ``D - 1`` the end date):

* Customer ``i`` signs up on day ``s_i``. From then on, on each day ``t`` it places
  ``N_t ~ Poisson(lam0_i * season(t) * M_i(t))`` orders. Each order is independently cancelled
  (probability ``c_i``), returned (``r_i``) or completed, so completed orders are a Poisson process
  with daily intensity ``lamc_i(t) = lam0_i * (1 - c_i - r_i) * season(t) * M_i(t)``.
* ``M_i(t) = 1`` until the *onset* day ``d_i`` (the customer starts to disengage, at the end of
  that day); afterwards
  ``M_i(t) = fade(t - d_i; phi_i) = floor + (1 - floor) exp(-(t - d_i)/phi_i)``:
  orders, sessions and basket size fade over weeks, then almost nothing happens.
* The onset hazard at the end of day ``t`` (while not yet onset) is
  ``h_i(t) = h0_i * exp(clip(B_i(t))) * (1 + w * min(t - g_i(t), cap) / scale)`` where
  ``B_i(t)`` is a dissatisfaction score (jumps at completed orders: up for late delivery,
  defective product, unresolved ticket; down for good experiences and coupons; decays with a
  memory of `bad_memory_days`) and ``g_i(t)`` is the day of the last good experience (or signup).
  Onset happens with probability ``1 - exp(-h_i(t))``.

Because ``B`` and ``g`` only change at completed orders, on the event "no completed order in
``[T, T + h)``" they evolve deterministically, so the probability of that event given the latent
state at ``T`` has an exact closed recursion (see `truth.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class ModelParams:
    """Tunable constants of the behaviour model (the ground truth depends on them).

    Attributes:
        base_hazard: Median daily onset hazard of a neutral customer.
        bad_memory_days: e-folding time of the dissatisfaction score.
        dsg_weight: Hazard increase per `dsg_scale_days` without a good experience.
        dsg_scale_days: Scale of the days-since-good effect.
        dsg_cap_days: Days-since-good beyond which the hazard stops rising.
        b_clip_low: Lower clip of the dissatisfaction score in the hazard.
        b_clip_high: Upper clip of the dissatisfaction score in the hazard.
        fade_floor: Remaining activity long after onset (win-back noise).
        churn_level: Fade level below which the customer counts as churned (``churn_at``).
    """

    base_hazard: float = 1 / 300
    bad_memory_days: float = 60.0
    dsg_weight: float = 0.6
    dsg_scale_days: float = 60.0
    dsg_cap_days: float = 365.0
    b_clip_low: float = -2.0
    b_clip_high: float = 4.0
    fade_floor: float = 0.01
    churn_level: float = 0.05

    def to_dict(self) -> dict[str, float]:
        """Returns the parameters as a JSON-friendly dict."""
        return asdict(self)


DEFAULT_PARAMS = ModelParams()

# Monday .. Sunday multipliers of order intensity (mean 1).
_WEEKLY = np.array([1.00, 0.95, 0.95, 1.00, 1.02, 0.93, 1.15])
_WEEKLY = _WEEKLY / _WEEKLY.mean()


def weekly_factor(start: dt.date, days: np.ndarray) -> np.ndarray:
    """Weekly rhythm of activity (Sunday peak, Saturday dip; mean 1) on day indices `days`."""
    ordinal = start.toordinal() + np.asarray(days, dtype=np.int64)
    return _WEEKLY[(ordinal - 1) % 7]  # date.fromordinal(1) is a Monday


def holiday_factor(start: dt.date, days: np.ndarray) -> np.ndarray:
    """Holiday peak (late November to Christmas) and January lull on day indices `days`."""
    ordinal = start.toordinal() + np.asarray(days, dtype=np.int64)
    d64 = (ordinal - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    doy = (d64 - d64.astype("datetime64[Y]")).astype(np.int64)  # 0-based day of year
    dist = doy - 341  # distance to 8 December, wrapped around the year end
    dist = np.where(dist < -183, dist + 365, dist)
    holiday = 1.0 + 0.9 * np.exp(-0.5 * (dist / 11.0) ** 2)
    january = 1.0 - 0.15 * np.exp(-0.5 * ((doy - 15) / 10.0) ** 2)
    return holiday * january


def season(start: dt.date, days: np.ndarray) -> np.ndarray:
    """Multiplier of activity on day indices `days` counted from `start` (weekly x holiday).

    Args:
        start: Date of day index 0.
        days: Integer day indices (any shape, may extend beyond the period).

    Returns:
        Float array of the same shape.
    """
    return weekly_factor(start, days) * holiday_factor(start, days)


def fade(days_after_onset: np.ndarray, phi: np.ndarray, params: ModelParams = DEFAULT_PARAMS):
    """Activity multiplier ``k`` days after the onset day (``k >= 1``); 1 for ``k <= 0``.

    Args:
        days_after_onset: Days since the onset day (any shape).
        phi: Fade time constant in days (broadcastable).
        params: Model parameters.

    Returns:
        Float array in (floor, 1].
    """
    k = np.asarray(days_after_onset, dtype=np.float64)
    f = params.fade_floor + (1.0 - params.fade_floor) * np.exp(-np.maximum(k, 0.0) / phi)
    return np.where(k <= 0, 1.0, f)


def churn_delay_days(phi: np.ndarray, params: ModelParams = DEFAULT_PARAMS) -> np.ndarray:
    """Days from onset until the fade falls below `params.churn_level` (the churn time)."""
    lvl = (params.churn_level - params.fade_floor) / (1.0 - params.fade_floor)
    return np.ceil(phi * np.log(1.0 / lvl))


def onset_hazard(
    h0: np.ndarray,
    dissatisfaction: np.ndarray,
    days_since_good: np.ndarray,
    params: ModelParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """Daily onset hazard of not-yet-disengaging customers.

    Args:
        h0: Customer base hazard per day.
        dissatisfaction: Score ``B`` after today's experiences.
        days_since_good: Days since the last good experience (or signup).
        params: Model parameters.

    Returns:
        Hazard per day (the onset probability today is ``1 - exp(-hazard)``).
    """
    b = np.clip(dissatisfaction, params.b_clip_low, params.b_clip_high)
    dsg = np.minimum(np.maximum(days_since_good, 0), params.dsg_cap_days)
    return h0 * np.exp(b) * (1.0 + params.dsg_weight * dsg / params.dsg_scale_days)


def memory_decay(params: ModelParams = DEFAULT_PARAMS) -> float:
    """Daily multiplicative decay of the dissatisfaction score."""
    return float(np.exp(-1.0 / params.bad_memory_days))
