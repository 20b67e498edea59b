"""The window sums behind the features (churnwatch/feature_windows.py): window edges,
customers kept apart, exact types, and the chunked DuckDB path against a brute-force SQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import churnwatch.feature_windows as fw
from churnwatch.feature_windows import (
    Collapsed,
    WindowSpec,
    collapsed_history,
    window_batches,
    window_sums,
)

T = date(2024, 7, 1)
EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - EPOCH).days


SPEC = WindowSpec.from_config(
    ["purchases", "spend"],
    {7: ["purchases"], 30: ["purchases"], 90: ["purchases"], 180: ["purchases", "spend"]},
    {"purchase": "purchases"},
)


def test_window_edges_are_t_minus_w_inclusive_and_t_exclusive():
    # customer 1 buys at T-181, T-180, T-8, T-7, T-1 and T; customers 0 and 2 buy every day,
    # before and after it in key order, and must not leak into customer 1's sums
    c1_days = [_day(T - timedelta(days=k)) for k in (181, 180, 8, 7, 1, 0)]
    others = list(range(_day(T) - 400, _day(T) + 5))
    cust = np.array([0] * len(others) + [1] * len(c1_days) + [2] * len(others))
    day = np.array(others + c1_days + others)
    units = np.ones((2, len(cust)), dtype=np.int64)
    units[1] = 1000  # spend in cents
    out = window_sums(
        cust, day, units, np.array([1]), np.array([_day(T)]), SPEC, ["purchases", "spend"]
    )
    got = {k: int(v[0]) for k, v in out.items()}
    assert got["purchases_7d"] == 2
    assert got["purchases_30d"] == 3
    assert got["purchases_90d"] == 3
    assert got["purchases_180d"] == 4
    assert got["spend_180d"] == 4000
    assert got["purchases_all"] == 5
    assert got["spend_all"] == 5000
    assert got["last_purchase_date"] == _day(T) - 1


def test_no_activity_gives_zeros_and_no_last_day():
    cust = np.array([0, 0])
    day = np.array([_day(T) - 3, _day(T) + 1])
    units = np.ones((2, 2), dtype=np.int64)
    out = window_sums(
        cust,
        day,
        units,
        np.array([1, 0]),
        np.array([_day(T), _day(T) - 3]),
        SPEC,
        ["purchases", "spend"],
    )
    assert all(out[k][0] == 0 for k in out if not k.startswith("last_"))
    assert all(out[k][1] == 0 for k in out if not k.startswith("last_"))
    assert out["last_purchase_date"][0] < -(1 << 40) and out["last_purchase_date"][1] < -(1 << 40)


def test_unsorted_input_and_wrapping_prefix_sums_stay_exact():
    rng = np.random.default_rng(0)
    n = 5000
    cust = rng.integers(0, 50, n)
    day = rng.integers(19000, 19400, n)
    keep = np.unique(cust * 100_000 + day, return_index=True)[1]
    cust, day = cust[keep], day[keep]
    perm = rng.permutation(len(cust))
    cust, day = cust[perm], day[perm]
    units = rng.integers(0, 3, (2, len(cust))).astype(np.int64)
    units[1] += 1 << 61  # prefix sums overflow int64 many times over
    pc_ = rng.integers(0, 50, 300)
    pd_ = rng.integers(19000, 19500, 300)
    out = window_sums(cust, day, units, pc_, pd_, SPEC, ["purchases", "spend"])
    for i in range(300):
        mine = cust == pc_[i]
        before = mine & (day < pd_[i])
        assert out["purchases_all"][i] == units[0, before].sum()
        for w in (7, 30, 90, 180):
            assert out[f"purchases_{w}d"][i] == units[0, before & (day >= pd_[i] - w)].sum()
        exact = sum(int(x) for x in units[1, before & (day >= pd_[i] - 180)])
        assert out["spend_180d"][i] == np.int64(((exact + (1 << 63)) % (1 << 64)) - (1 << 63))
        seen = day[before & (units[0] > 0)]
        if len(seen):
            assert out["last_purchase_date"][i] == seen.max()
        else:
            assert out["last_purchase_date"][i] < -(1 << 40)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.int32])
def test_narrow_measure_types_are_summed_in_int64(dtype):
    # window_batches reads measures as narrow as their statistics allow: sums far beyond the
    # type's range (and the unsorted path, which reorders them in that type) stay exact
    rng = np.random.default_rng(1)
    cust = np.repeat(np.arange(4), 400)
    day = np.tile(np.arange(19000, 19400), 4)
    perm = rng.permutation(len(cust))
    cust, day = cust[perm], day[perm]
    top = np.iinfo(dtype).max
    wide = rng.integers(top - 3, top + 1, (2, len(cust))).astype(np.int64)
    pc_, pd_ = np.arange(4), np.full(4, 19400)
    narrow = [wide[0].astype(dtype), wide[1].astype(dtype)]
    got = window_sums(cust, day, narrow, pc_, pd_, SPEC, ["purchases", "spend"])
    want = window_sums(cust, day, wide, pc_, pd_, SPEC, ["purchases", "spend"])
    assert got["spend_all"][0] > 300 * top
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.parametrize("sorted_rows", [True, False])
def test_rows_of_a_negative_customer_index_are_skipped(sorted_rows):
    # window_batches marks the daily rows of customers outside the chunk with index -1 (several
    # on one day): they must change nothing, sorted input or not
    cust = np.array([0, 0, 1, 1, 1])
    day = np.array([10, 12, 3, 9, 11])
    units = np.array([[1, 2, 4, 8, 16], [1, 1, 1, 1, 1]], dtype=np.int64)
    pairs = (np.array([0, 1, 1]), np.array([13, 10, 12]))
    want = window_sums(cust, day, units, *pairs, SPEC, ["purchases", "spend"])
    noisy_cust = np.array([-1, 0, -1, 0, 1, -1, 1, 1])
    noisy_day = np.array([5, 10, 5, 12, 3, 5, 9, 11])
    noisy_units = np.array(
        [[99, 1, 99, 2, 4, 99, 8, 16], [99, 1, 99, 1, 1, 99, 1, 1]], dtype=np.int64
    )
    if not sorted_rows:
        perm = np.array([7, 2, 4, 0, 3, 6, 1, 5])
        noisy_cust, noisy_day, noisy_units = (
            noisy_cust[perm],
            noisy_day[perm],
            noisy_units[:, perm],
        )
    got = window_sums(noisy_cust, noisy_day, noisy_units, *pairs, SPEC, ["purchases", "spend"])
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert list(got["purchases_all"]) == [3, 12, 28]


def _brute_force_check(out, cust, day, units, pc_, pd_) -> None:
    for i in range(len(pc_)):
        before = (cust == pc_[i]) & (day < pd_[i])
        assert out["purchases_all"][i] == units[0, before].sum()
        assert out["spend_all"][i] == units[1, before].sum()
        for w in (7, 30, 90, 180):
            assert out[f"purchases_{w}d"][i] == units[0, before & (day >= pd_[i] - w)].sum()
        assert out["spend_180d"][i] == units[1, before & (day >= pd_[i] - 180)].sum()
        seen = day[before & (units[0] > 0)]
        if len(seen):
            assert out["last_purchase_date"][i] == seen.max()
        else:
            assert out["last_purchase_date"][i] < -(1 << 40)


@pytest.mark.parametrize("n_runs", [1, 2, 3, fw.MAX_RUNS + 4])
def test_rows_in_a_few_runs_are_summed_where_they_lie(n_runs, monkeypatch):
    # an incremental run appends its days at the end of the daily table: a chunk reads the old
    # rows in key order, then each later run's rows in key order, with rows of customers
    # outside the chunk (index -1) in between; a few runs are summed in place, many sorted
    rng = np.random.default_rng(n_runs)
    cust = np.repeat(np.arange(-1, 30), 60)
    day = np.tile(np.arange(19000, 19600, 10), 31)
    day = day + rng.integers(0, 10, len(day))
    run_of = rng.integers(0, n_runs, len(cust))
    stored = np.lexsort((day, cust, run_of))  # run by run, each in (customer, day) order
    cust, day, run_of = cust[stored], day[stored], run_of[stored]
    # the rows of some customers of no pair, between the others
    cust[np.isin(cust, rng.choice(30, 6, replace=False))] = -1
    units = rng.integers(0, 3, (2, len(cust))).astype(np.int64)
    units[:, cust < 0] = 1000  # would show in any sum they leaked into
    pc_ = rng.integers(0, 30, 200)
    pd_ = rng.integers(19000, 19700, 200)
    assert len(np.unique(run_of)) == n_runs
    with monkeypatch.context() as m:
        if n_runs <= fw.MAX_RUNS:  # summed in place: nothing sorted
            m.setattr(np, "argsort", lambda *a, **k: pytest.fail("sorted a few runs"))
        out = window_sums(cust, day, units, pc_, pd_, SPEC, ["purchases", "spend"])
    _brute_force_check(out, cust, day, units, pc_, pd_)
    # the same rows shuffled (the sorting path) give the same sums
    perm = rng.permutation(len(cust))
    shuffled = window_sums(
        cust[perm], day[perm], units[:, perm], pc_, pd_, SPEC, ["purchases", "spend"]
    )
    for name in out:
        np.testing.assert_array_equal(out[name], shuffled[name], err_msg=name)


@pytest.mark.parametrize("skipped_between", [False, True])
def test_a_customer_day_in_two_runs_is_an_error(skipped_between):
    # customer 0's day 5 in the first run and again in the appended one
    cust = np.array([0, 0, 1, 0, 1])
    day = np.array([5, 7, 5, 5, 9])
    if skipped_between:
        cust, day = np.insert(cust, 3, -1), np.insert(day, 3, 5)
    with pytest.raises(ValueError, match="two rows"):
        window_sums(
            cust,
            day,
            np.ones((2, len(cust)), dtype=np.int64),
            np.array([0]),
            np.array([9]),
            SPEC,
            ["purchases", "spend"],
        )


def test_duplicate_customer_days_are_an_error():
    with pytest.raises(ValueError, match="two rows"):
        window_sums(
            np.array([0, 0]),
            np.array([5, 5]),
            np.ones((2, 2), dtype=np.int64),
            np.array([0]),
            np.array([9]),
            SPEC,
            ["purchases", "spend"],
        )


def test_collapsed_rows_add_to_lifetime_and_last_day_and_must_end_before_every_window():
    # customer 0: collapsed rows (before T - 180) hold 5 purchases, the last on T - 300;
    # customer 1: collapsed purchases too, plus a purchase at T - 3 that is the last one
    before = _day(T) - 180
    collapsed = Collapsed(
        before,
        {"purchases": np.array([5, 2]), "spend": np.array([700, 100])},
        {"purchase": np.array([_day(T) - 300, _day(T) - 200])},
    )
    units = np.array([[1], [250]], dtype=np.int64)
    args = (np.array([1]), np.array([_day(T) - 3]), units)
    out = window_sums(
        *args, np.array([0, 1]), np.array([_day(T)] * 2), SPEC, ["purchases", "spend"], collapsed
    )
    assert out["purchases_all"].tolist() == [5, 3]
    assert out["spend_all"].tolist() == [700, 350]
    assert out["purchases_180d"].tolist() == [0, 1]
    assert out["last_purchase_date"].tolist() == [_day(T) - 300, _day(T) - 3]
    with pytest.raises(ValueError, match="180-day window"):
        window_sums(
            *args, np.array([0]), np.array([_day(T) - 1]), SPEC, ["purchases", "spend"], collapsed
        )


@pytest.mark.parametrize("chunk", [1, 3, 1000])
@pytest.mark.parametrize("first_snapshot", ["2024-01-05", "2024-08-02"])
@pytest.mark.parametrize("collapse", [None, "min", "max"])
def test_chunked_duckdb_path_matches_sql_with_exact_types(
    chunk, first_snapshot, collapse, monkeypatch
):
    # pairs from 2024-08-02 (an incremental run): the daily rows before 2024-07-03 (its first
    # snapshot - 30 days) are collapsed per customer; c9 has only such rows, c7 none at all;
    # c4 has daily and collapsed rows but no pairs (its rows are read with its neighbours')
    con = duckdb.connect()
    _daily_table(con)
    con.execute(
        f"""
        create table pairs as
        select
            'c' || k::varchar as customer_id,
            date '{first_snapshot}' + (s * 7)::integer as snapshot_date,
        from range(10) a(k), range(40) b(s)
        where k not in (4, 8)
        order by 1, 2
        """
    )
    spec = WindowSpec.from_config(
        ["purchases", "spend"], {30: ["spend", "browse_seconds"]}, {"purchase": "purchases"}
    )
    collapsed_sql = None
    if collapse:
        # collapsed before the first (as the previous run would leave it) or the last snapshot's
        # window (as a full build leaves it: too late for these pairs, so every row is read)
        at = "select * from pairs where snapshot_date = "
        at += f"(select {collapse}(snapshot_date) from pairs)"
        rel = collapsed_history(con, "select * from daily", at, spec)
        rel.create("collapsed")
        collapsed_sql = "select * from collapsed"
    read = fw._read

    def spy(c, sql):
        reads.append(sql)
        return read(c, sql)

    reads: list[str] = []
    monkeypatch.setattr(fw, "_read", spy)
    schema, batches = window_batches(
        con,
        "select * from daily",
        "select * from pairs",
        spec,
        chunk_customers=chunk,
        collapsed_sql=collapsed_sql,
    )
    got = pa.Table.from_batches(list(batches), schema=schema)
    assert got.schema.field("spend_all").type == pa.decimal128(38, 2)
    assert got.schema.field("browse_seconds_30d").type == pa.float64()
    assert got.schema.field("last_purchase_date").type == pa.date32()
    con.register("got", got)
    diff = con.sql(
        """
        with expect as (
            select
                p.customer_id, p.snapshot_date,
                coalesce(sum(d.purchases), 0) as purchases_all,
                coalesce(sum(d.spend), 0) as spend_all,
                max(d.activity_date) filter (where d.purchases > 0) as last_purchase_date,
                coalesce(sum(d.spend) filter (where d.activity_date >= p.snapshot_date - 30), 0)
                    as spend_30d,
                coalesce(sum(d.browse_seconds)
                    filter (where d.activity_date >= p.snapshot_date - 30), 0)
                    as browse_seconds_30d,
            from pairs p
            left join daily d
                on d.customer_id = p.customer_id and d.activity_date < p.snapshot_date
            group by all
        )
        select count(*) from expect e full join got g using (customer_id, snapshot_date)
        where e.purchases_all is distinct from g.purchases_all
            or e.spend_all is distinct from g.spend_all
            or e.spend_30d is distinct from g.spend_30d
            or e.last_purchase_date is distinct from g.last_purchase_date
            or abs(e.browse_seconds_30d - g.browse_seconds_30d) > 1e-9
            or g.customer_id is null or e.customer_id is null
        """
    ).fetchall()[0][0]
    assert got.num_rows == 8 * 40
    assert diff == 0
    # the collapsed rows were used: the daily rows were read from the cut on
    cut_used = any("activity_date >=" in sql for sql in reads)
    assert cut_used == (collapse == "min")


def test_values_beyond_the_statistics_bounds_are_read_again_wide(monkeypatch):
    # the measures are read as narrow as DuckDB's column statistics allow; were the bounds too
    # tight, try_cast gives NULL and the chunk is read again as BIGINT: same sums
    con = duckdb.connect()
    _daily_table(con)
    con.execute("update daily set purchases = 1000 where customer_id = 'c3' and purchases = 2")
    con.execute(
        "create table pairs as select 'c' || k::varchar as customer_id, date '2024-06-01' "
        "as snapshot_date from range(10) t(k)"
    )
    spec = WindowSpec.from_config(["purchases", "spend"], {30: ["spend"]}, {})
    assert fw.narrow_types(
        con, "select * from daily", fw.measure_kinds(con, "select * from daily", spec)
    ) == {"purchases": "smallint", "spend": "smallint"}

    def run() -> pa.Table:
        schema, batches = window_batches(
            con, "select * from daily", "select * from pairs", spec, chunk_customers=4
        )
        return pa.Table.from_batches(list(batches), schema=schema).sort_by("customer_id")

    right = run()
    reads: list[str] = []
    read = fw._read

    def spy(c, sql):
        reads.append(sql)
        return read(c, sql)

    monkeypatch.setattr(fw, "_read", spy)
    too_tight = {"purchases": "tinyint", "spend": "smallint"}
    monkeypatch.setattr(fw, "narrow_types", lambda con, sql, kinds: too_tight)
    wrong_bounds = run()
    assert wrong_bounds.equals(right)
    assert right.column("purchases_all").to_pylist()[3] > 1000
    # c3's chunk (c0..c3) was read twice: narrow, then wide; the other two once
    daily_reads = [sql for sql in reads if "from (select * from daily)" in sql]
    assert sum("try_cast" in sql for sql in daily_reads) == 3
    assert sum("try_cast" not in sql for sql in daily_reads) == 1


def _daily_table(con) -> None:
    """c0..c6: a row every 3 days from 2024-01-01 (some with zero purchases); c9: three rows in
    February only."""
    con.execute(
        """
        create table daily as
        select
            'c' || (i % 7)::varchar as customer_id,
            date '2024-01-01' + ((i // 7) * 3 + (i % 7))::integer as activity_date,
            (i % 3)::bigint as purchases,
            ((i % 11) * 1.25)::decimal(18, 2) as spend,
            ((i % 5) * 0.1 + 1)::double as browse_seconds,
        from range(700) t(i)
        union all
        select 'c9', date '2024-02-01' + k::integer, 1, 0.01, 0.25 from range(3) t(k)
        order by customer_id, activity_date
        """
    )


COLLAPSE_SPEC = WindowSpec.from_config(
    ["purchases", "spend", "browse_seconds"], {30: ["spend"]}, {"purchase": "purchases"}
)


def _pairs(con, name: str, first: str) -> str:
    """A calendar snapshot `first` and the as-of date the day after: the cut is first - 30."""
    con.execute(
        f"create or replace table {name} as select 'c' || k::varchar as customer_id, "
        f"date '{first}' + s::integer as snapshot_date from range(10) a(k), range(2) b(s)"
    )
    return f"select * from {name}"


def _state(con, pairs: str, previous: str | None = None) -> tuple[list[tuple], list[str]]:
    said: list[str] = []
    rel = collapsed_history(
        con, "select * from daily", pairs, COLLAPSE_SPEC, previous, said.append
    )
    return sorted(rel.fetchall()), said


def _apply(con, table: str, rel) -> None:
    """What the dbt model's delete+insert on customer_id does with the rows returned."""
    con.execute(f"create or replace temp table returned as {rel.sql_query()}")
    con.execute(f"delete from {table} where customer_id in (select customer_id from returned)")
    con.execute(f"insert into {table} select * from returned")


def test_collapsed_history_matches_brute_force_and_is_brought_forward_exactly():
    con = duckdb.connect()
    _daily_table(con)
    # c10: a single row before both cuts (unchanged when the table is brought forward)
    con.execute("insert into daily values ('c10', date '2024-01-10', 2, 3.50, 1.5)")
    early = _pairs(con, "early", "2024-03-01")  # cut 2024-01-31
    late = _pairs(con, "late", "2024-08-02")  # cut 2024-07-03
    fresh, said = _state(con, late)
    assert said == ["computed from scratch: rows before 2024-07-03"]
    expect = con.sql(
        """
        select customer_id, date '2024-07-03',
            count(*) filter (where activity_date < '2024-07-03'),
            coalesce(sum(purchases) filter (where activity_date < '2024-07-03'), 0),
            coalesce(sum(spend * 100) filter (where activity_date < '2024-07-03'), 0),
            coalesce(sum(round(browse_seconds * 1e6)::bigint)
                filter (where activity_date < '2024-07-03'), 0),
            max(activity_date) filter (where activity_date < '2024-07-03' and purchases > 0)
        from daily group by customer_id order by customer_id
        """
    ).fetchall()
    assert fresh == expect
    assert len(fresh) == 9  # c0..c6, c9 (whose rows are all collapsed) and c10

    # the previous run's table (cut 2024-01-31), brought forward to 2024-07-03: only the
    # customers with rows in between are returned; applied, the table equals a fresh one
    con.execute(
        "create table previous as "
        + collapsed_history(con, "select * from daily", early, COLLAPSE_SPEC).sql_query()
    )
    con.execute("create table latest as select * from previous")
    forward, said = _state(con, late, "select * from latest")
    assert said == ["brought forward from 2024-01-31 to 2024-07-03"]
    assert [r[0] for r in forward] == [r[0] for r in fresh if r[0] != "c10"]
    _apply(
        con,
        "latest",
        collapsed_history(con, "select * from daily", late, COLLAPSE_SPEC, "select * from latest"),
    )
    applied = con.sql("select * from latest order by customer_id").fetchall()
    assert [r[:1] + r[2:] for r in applied] == [r[:1] + r[2:] for r in fresh]
    assert {r[0]: r[1] for r in applied}["c10"] == date(2024, 1, 31)
    assert max(r[1] for r in applied) == date(2024, 7, 3)
    # brought forward again to the same cut: nothing changes
    again, said = _state(con, late, "select * from latest")
    assert said == ["brought forward from 2024-07-03 to 2024-07-03"] and again == []

    # an earlier cut (an earlier as-of date): recomputed, not subtracted
    back, said = _state(con, early, "select * from latest")
    assert said == ["computed from scratch: the cut moved back from 2024-07-03"]
    assert back == _state(con, early)[0]
    # the daily rows before the previous cut changed (a rebuilt daily table): recomputed; a
    # customer gone from the daily table keeps a row of zeros
    con.execute("update daily set purchases = purchases + 1 where activity_date = '2024-01-02'")
    con.execute("delete from daily where customer_id = 'c9'")
    changed, said = _state(con, late, "select * from previous")
    assert said == [
        "computed from scratch: the daily rows before 2024-01-31 changed since the last build"
    ]
    c9 = [r for r in changed if r[0] == "c9"]
    assert c9 == [("c9", date(2024, 7, 3), 0, 0, 0, 0, None)]
    rest, _ = _state(con, late)
    assert [r for r in changed if r[0] != "c9"] == rest


@pytest.mark.parametrize("workers", [0, 1, 2, 3])
def test_chunks_computed_ahead_keep_order_raise_errors_and_stop_when_closed(workers):
    con = duckdb.connect()
    con.execute("create table t as select range as i from range(100)")
    started: list[int] = []

    def work(cursor, i):
        started.append(i)
        if i == 7:
            raise ValueError("chunk 7 failed")
        # each worker thread reads through its own cursor of the connection
        assert (cursor is con) == (workers == 0)
        return cursor.sql(f"select i * 10 from t where i = {i}").fetchall()[0][0]

    assert list(fw._in_order(con, work, range(7), workers)) == [i * 10 for i in range(7)]
    with pytest.raises(ValueError, match="chunk 7 failed"):
        list(fw._in_order(con, work, range(20), workers))
    started.clear()
    ahead = fw._in_order(con, work, range(100), workers)
    assert [next(ahead), next(ahead)] == [0, 10]
    ahead.close()  # cancels what has not started and waits for the rest
    assert len(started) <= 2 + workers
    assert not any(t.name.startswith("churnwatch-windows") for t in threading.enumerate())


@pytest.mark.parametrize(
    "ids",
    [
        [],
        ["c1"],
        ["c1", "c1", "c2", "c9", "c9", "c1", "c3", "c3"],  # runs, a repeat later, an outsider
        ["c3", "c2", "c1", "c0", "c2"],
        ["c1", None, None, "c2"],  # NULL: in no chunk
    ],
)
def test_chunk_index_is_each_ids_position_or_minus_one(ids):
    chunk = pa.array(["c1", "c2", "c3"])
    want = [{"c1": 0, "c2": 1, "c3": 2}.get(i, -1) for i in ids]
    got = fw._chunk_index(pa.chunked_array([pa.array(ids, pa.string())]), chunk)
    assert got.tolist() == want
    assert fw._chunk_index(pa.array(ids, pa.string()), chunk).tolist() == want
    # as DuckDB hands them over: several Arrow chunks, runs cut at their boundaries, empty ones
    for cut in range(len(ids) + 1):
        pieces = pa.chunked_array(
            [
                pa.array(ids[:cut], pa.string()),
                pa.array([], pa.string()),
                pa.array(ids[cut:], pa.string()),
            ]
        )
        assert fw._chunk_index(pieces, chunk).tolist() == want


def test_the_loops_warm_up_once_in_the_background(monkeypatch):
    from churnwatch import window_kernel

    calls = []
    release = threading.Event()

    def slow_call_once():
        calls.append(threading.current_thread().name)
        release.wait(5)

    monkeypatch.setattr(window_kernel, "_warm_thread", None)
    monkeypatch.setattr(window_kernel, "_call_once", slow_call_once)
    window_kernel.warm_up()
    window_kernel.warm_up()  # while the first still runs: no second thread
    thread = window_kernel._warm_thread
    assert thread is not None and thread.daemon
    release.set()
    thread.join(5)
    window_kernel.warm_up()  # after it finished: still once per process
    assert calls == ["churnwatch-numba-warm-up"]
    assert window_kernel._warm_thread is thread


def test_the_warm_up_calls_run_every_loop_without_error():
    from churnwatch import window_kernel

    window_kernel._call_once()  # raises if a loop's signature or arguments went stale
