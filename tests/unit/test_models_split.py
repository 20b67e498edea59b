"""The out-of-time split keeps one horizon between train, validation and test."""

import datetime as dt

import numpy as np
import pytest

from models_py.data import DataError, TimeSplit, check_split, time_folds, time_split

WEEKLY = [dt.date(2024, 1, 1) + dt.timedelta(days=7 * i) for i in range(40)]


@pytest.mark.parametrize("horizon", [1, 7, 14, 28, 30, 60, 90])
@pytest.mark.parametrize("n_val,n_test", [(1, 1), (2, 1), (3, 2)])
def test_split_gaps(horizon, n_val, n_test):
    s = time_split(WEEKLY, horizon, val_snapshots=n_val, test_snapshots=n_test)
    h = dt.timedelta(days=horizon)
    assert list(s.test_dates) == WEEKLY[-n_test:]
    assert len(s.val_dates) == n_val
    # the gaps, checked directly
    assert all(t + h <= min(s.val_dates) for t in s.train_dates)
    assert all(v + h <= min(s.test_dates) for v in s.val_dates)
    # parts are disjoint and time-ordered
    assert max(s.train_dates) < min(s.val_dates) <= max(s.val_dates) < min(s.test_dates)
    # validation is as late as the gap allows; train takes every eligible snapshot
    later = [d for d in WEEKLY if max(s.val_dates) < d < min(s.test_dates)]
    assert all(d + h > min(s.test_dates) for d in later)
    assert list(s.train_dates) == [d for d in WEEKLY if d + h <= min(s.val_dates)]


def test_row_masks_never_mix_parts():
    rng = np.random.default_rng(0)
    rows = np.array(WEEKLY, dtype="datetime64[D]")[rng.integers(0, len(WEEKLY), 5000)]
    s = time_split(rows, 30)
    tr, va, te = s.masks(rows)
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
    h = np.timedelta64(30, "D")
    assert rows[tr].max() + h <= rows[va].min()
    assert rows[va].max() + h <= rows[te].min()
    assert set(rows[te].tolist()) == {WEEKLY[-1]}


def test_too_few_snapshots():
    with pytest.raises(DataError, match="too few"):
        time_split(WEEKLY[:6], 30)
    with pytest.raises(DataError):
        time_split(WEEKLY[:2], 7)


def test_check_split_catches_leakage():
    leaky = TimeSplit(tuple(WEEKLY[:10]), (WEEKLY[11],), (WEEKLY[20],), 30)
    with pytest.raises(AssertionError, match="train"):
        check_split(leaky)
    leaky_val = TimeSplit(tuple(WEEKLY[:5]), (WEEKLY[10],), (WEEKLY[12],), 30)
    with pytest.raises(AssertionError, match="validation"):
        check_split(leaky_val)


@pytest.mark.parametrize("horizon", [7, 30, 60])
def test_search_folds_respect_gaps(horizon):
    s = time_split(WEEKLY, horizon)
    folds = time_folds(s.train_dates, horizon, n_folds=3, eval_snapshots=2)
    assert folds
    h = dt.timedelta(days=horizon)
    for fit, ev in folds:
        assert set(fit) | set(ev) <= set(s.train_dates)
        assert max(fit) + h <= min(ev)
    assert [f[1] for f in folds] == sorted(f[1] for f in folds)  # oldest fold first


def test_search_folds_empty_when_period_short():
    assert time_folds(WEEKLY[:3], 90) == []


# ---- short history: only the train -> validation gap shrinks; the test gap never does
CDNOW_LIKE = [dt.date(1997, 1, 6) + dt.timedelta(days=7 * i) for i in range(26)]  # to 1997-06-30


def _assert_test_gap_and_disjoint(s, dates):
    h = dt.timedelta(days=s.horizon_days)
    assert all(d + h <= min(s.test_dates) for d in s.train_dates + s.val_dates)
    assert max(s.train_dates) < min(s.val_dates) <= max(s.val_dates) < min(s.test_dates)
    assert not set(s.train_dates) & set(s.val_dates)
    assert set(s.train_dates) | set(s.val_dates) <= set(s.refit_dates(dates))


def test_short_history_shrinks_only_the_validation_gap():
    # 90-day horizon on 26 weekly snapshots: two 90-day gaps do not fit (the old DataError)
    with pytest.raises(DataError, match="too few"):
        time_split(CDNOW_LIKE, 90, short_history=False)
    s = time_split(CDNOW_LIKE, 90, min_train_snapshots=8)
    assert s.short_history and 1 <= s.train_val_gap_days < 90
    assert s.test_dates == (dt.date(1997, 6, 30),)
    assert s.val_dates == (dt.date(1997, 3, 24), dt.date(1997, 3, 31))  # latest V + 90 <= test
    assert len(s.train_dates) == 8 and s.train_dates[0] == CDNOW_LIKE[0]
    g = dt.timedelta(days=s.train_val_gap_days)
    assert all(d + g <= min(s.val_dates) for d in s.train_dates)
    _assert_test_gap_and_disjoint(s, CDNOW_LIKE)
    # the largest gap that leaves 8 train snapshots: one more day would drop the 8th
    assert s.train_dates[-1] + g == min(s.val_dates)
    assert s.as_dict()["validation_gap_days"] == s.train_val_gap_days
    check_split(s)


@pytest.mark.parametrize("n_dates", [3, 5, 14, 20, 27, 28])
@pytest.mark.parametrize("horizon", [30, 90])
def test_short_history_never_breaks_the_test_gap(n_dates, horizon):
    dates = WEEKLY[:n_dates]
    try:
        s = time_split(dates, horizon)
    except DataError:
        # only when no validation block fits before the test gap, or nothing precedes it
        h = dt.timedelta(days=horizon)
        val = [d for d in dates if d + h <= dates[-1]][-2:]
        assert not val or not [d for d in dates if d < val[0]]
        return
    _assert_test_gap_and_disjoint(s, dates)
    check_split(s)


def test_long_history_keeps_full_gaps():
    s = time_split(WEEKLY, 30)
    assert not s.short_history and s.train_val_gap_days == 30 and s.val_gap_days is None


def test_check_split_rejects_a_zero_or_too_long_validation_gap():
    with pytest.raises(AssertionError, match="gap"):
        check_split(TimeSplit(tuple(WEEKLY[:3]), (WEEKLY[3],), (WEEKLY[20],), 30, 0))
    with pytest.raises(AssertionError, match="gap"):
        check_split(TimeSplit(tuple(WEEKLY[:3]), (WEEKLY[10],), (WEEKLY[20],), 30, 31))
    leaky = TimeSplit(tuple(WEEKLY[:5]), (WEEKLY[5],), (WEEKLY[20],), 30, 14)
    with pytest.raises(AssertionError, match="train"):
        check_split(leaky)


def test_refit_dates_stop_one_horizon_before_the_test():
    s = time_split(WEEKLY, 30)
    refit = s.refit_dates(WEEKLY)
    assert set(s.train_dates) | set(s.val_dates) <= set(refit)
    assert max(refit) + dt.timedelta(days=30) <= min(s.test_dates)
    assert [d for d in WEEKLY if d + dt.timedelta(days=30) <= min(s.test_dates)] == list(refit)
