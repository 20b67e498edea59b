"""The compiled loops behind `feature_windows.window_sums` (numba).

The window sums are differences of prefix sums over a chunk's daily rows. In numpy that is one
`cumsum` per measure (a pass that writes an int64 array as long as the rows, from the measure's
narrow type: ~2.5 ns a value) and a gather per output column and run. Here one pass per measure
keeps the prefix in a reused buffer at ~0.8 ns a value, and each output column is gathered and
differenced in the same compiled loop; where each pair's sums start and end is found once per
chunk, by a binary search in each customer's own rows. At 1 M customers, one incremental week
(44 chunks, 22.4 M daily rows, 1.72 M pairs, one thread): `window_sums` 4.4 s of CPU in numpy
(cumsum 1.9 s, take 0.8 s, searchsorted 0.7 s), 2.2 s here (measure_sums 0.9 s). The
brute-force tests in tests/unit/test_feature_windows.py hold for both.

Integers only: sums wrap modulo 2**64 like numpy's int64, so a difference of two prefix sums is
exact whenever the true sum fits in int64. `nogil`: the window model's worker threads run
these loops side by side. `cache`: compiled once per installation (in `__pycache__`), not per
process.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _lower_bound(values, lo, hi, target):
    """The first index in [lo, hi) whose value is >= target (hi if none); values sorted there."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def pair_positions(customer, day, run_lo, run_hi, pair_customer, pair_day, offsets, pos, seg):
    """Where each pair's sums start and end in each run of the rows.

    Rows: `customer` (index, negative = a row to skip) and `day`, in runs [run_lo[r], run_hi[r])
    each in (customer, day) order. Pairs: sorted by (customer, day). Fills, for each run r and
    pair j whose customer has rows in run r: seg[r, j] = the customer's first row there and
    pos[r, o, j] = its first row there dated on or after pair_day[j] - offsets[o] (the end of
    its rows if none). Pairs whose customer has no rows in a run keep pos = seg = 0 there.
    """
    n_offsets = offsets.shape[0]
    n_pairs = pair_customer.shape[0]
    for r in range(run_lo.shape[0]):
        i = run_lo[r]
        end = run_hi[r]
        while i < end:
            c = customer[i]
            if c < 0:
                i += 1
                continue
            first = i
            while i < end and customer[i] == c:
                i += 1
            j = _lower_bound(pair_customer, 0, n_pairs, c)
            while j < n_pairs and pair_customer[j] == c:
                seg[r, j] = first
                for o in range(n_offsets):
                    pos[r, o, j] = _lower_bound(day, first, i, pair_day[j] - offsets[o])
                j += 1


@njit(cache=True, nogil=True)
def measure_sums(units, pos, seg, offset_index, dest, out, prefix):
    """One measure's sums for every pair: for each q, out[q, dest[j]] = the measure summed over
    pair j's rows dated in [pair_day - offsets[offset_index[q]], pair_day) (offset_index[q] < 0:
    over all its rows before pair_day), over all runs (dest: where the caller wants pair j).
    `prefix`: a buffer of len(units) + 1."""
    n = units.shape[0]
    acc = np.int64(0)
    prefix[0] = 0
    for p in range(n):
        acc += np.int64(units[p])
        prefix[p + 1] = acc
    n_runs = pos.shape[0]
    n_pairs = pos.shape[2]
    for q in range(offset_index.shape[0]):
        o = offset_index[q]
        for j in range(n_pairs):
            total = np.int64(0)
            for r in range(n_runs):
                lo = seg[r, j] if o < 0 else pos[r, o, j]
                total += prefix[pos[r, 0, j]] - prefix[lo]
            out[q, dest[j]] = total


@njit(cache=True, nogil=True)
def last_seen(units, day, pos, seg, dest, last, buffer):
    """For each pair j: last[dest[j]] = the latest day before pair_day among its rows with
    units > 0, if later than last[dest[j]] already. `buffer`: len(units) + 1 int64."""
    n = units.shape[0]
    previous = -1
    for p in range(n):
        buffer[p] = previous
        if units[p] > 0:
            previous = p
    buffer[n] = previous
    for r in range(pos.shape[0]):
        for j in range(pos.shape[2]):
            end = pos[r, 0, j]
            row = buffer[end]
            if end > seg[r, j] and row >= seg[r, j]:
                d = np.int64(day[row])
                if d > last[dest[j]]:
                    last[dest[j]] = d


_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def _call_once() -> None:
    """Each loop once on a few rows: numba's first call in a process sets up its code
    generation and loads the cached machine code (~0.25 s; later first calls of other integer
    types ~3 ms each)."""
    rows = 4
    customer = np.zeros(rows, dtype=np.int64)
    day = np.arange(rows, dtype=np.int64)
    run_lo, run_hi = np.array([0], dtype=np.int64), np.array([rows], dtype=np.int64)
    pair_customer, pair_day = np.zeros(1, dtype=np.int64), np.array([2], dtype=np.int64)
    offsets = np.array([0, 1], dtype=np.int64)
    pos = np.zeros((1, 2, 1), dtype=np.int64)
    seg = np.zeros((1, 1), dtype=np.int64)
    pair_positions(customer, day, run_lo, run_hi, pair_customer, pair_day, offsets, pos, seg)
    dest = np.zeros(1, dtype=np.int64)
    buffer = np.empty(rows + 1, dtype=np.int64)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        units = np.ones(rows, dtype=dtype)
        out = np.zeros((1, 1), dtype=np.int64)
        measure_sums(units, pos, seg, np.array([0], dtype=np.int64), dest, out, buffer)
        last_seen(units, day, pos, seg, dest, np.zeros(1, dtype=np.int64), buffer)


def warm_up() -> None:
    """Loads the compiled loops in a background thread (once per process), so that the load
    overlaps DuckDB's work: the dbt model int_customer_collapsed_history (which runs just before
    the window model) calls it first thing, and `window_batches` again (a no-op then). A call of
    a loop while this runs waits for it (numba's compiler lock). Errors surface there, at the
    real call, not here."""
    global _warm_thread
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(
                target=_warm_quietly, name="churnwatch-numba-warm-up", daemon=True
            )
            _warm_thread.start()


def _warm_quietly() -> None:
    # an error here is raised again by the real call, where the model can report it
    with contextlib.suppress(Exception):
        _call_once()
