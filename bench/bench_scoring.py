"""Benchmark in-database scoring against ONNX Runtime alone, side by side in one run.

Builds a random feature table (`features FLOAT[N]`, stored column) in DuckDB and a small MLP
(N -> 64 -> 32 -> 1, onnx.helper, no TensorFlow), then times:

- yardstick: ONNX Runtime on numpy batches (1 and 2 threads), no DuckDB;
- `churn_score` inside `create table ... as select` (threads = --threads), plus variants
  (a naive per-row to_numpy UDF; ORT intra-op threads; graph optimisation level; DuckDB threads);
- `churn_reasons` (explain.onnx as training exports it, the older first-order attribution
  variants, and exact occlusion on a subset) vs `churn_score`, and the explainer's agreement
  with exact occlusion;
- the whole scoring step as the dbt model runs it (`churn_score_and_reasons`: one network pass
  for probability and reasons), and the older two-function form (churn_score + churn_reasons).

Every case is timed in wall-clock seconds and in CPU seconds of this process (all threads:
DuckDB's and ONNX Runtime's). On a shared machine the CPU figures are the steadier measure of
cost; wall-clock is what the targets are written in.

With --model-dir (a real artifacts/models/<version>/ folder) the real model and its explainer
are used instead of the toy MLP, with --features-db rows of main.training_examples tiled.

The feature table lives in a database file, stored as the dbt model `scoring_examples` writes
it (--storage file: DuckDB's default, ALP-compressed floats, decompressed on every scan);
--storage file-uncompressed writes it with compression off (tried in dbt, not adopted:
bench/RESULTS_scoring.md) and --storage memory is an in-memory table (never compressed: what
runs before 2026-11-30 measured). --compare-storage
times the do-nothing UDF and churn_score on all three in the same run.

Run: PYTHONPATH=. python bench/bench_scoring.py --rows 1000000 --features 60
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import onnxruntime as ort
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scoring
from tests.helpers.toy_model import (
    create_feature_catalog,
    feature_list,
    write_model,
)

STORAGES = ("file-uncompressed", "file", "memory")


def create_feature_table(con: duckdb.DuckDBPyConnection, storage: str, source: str, n: int) -> str:
    """Create the feature table for `storage` from the registered Arrow table; its name."""
    table = {"file-uncompressed": "feats_uncompressed", "file": "feats", "memory": "mem.feats"}[
        storage
    ]
    if storage == "file-uncompressed":
        con.execute("set force_compression = 'uncompressed'")
    try:
        con.execute(
            f"create or replace table {table} as select customer_id, "
            f"features::float[{n}] as features from {source}"
        )
        if storage == "file-uncompressed":
            # a partial row group is only written (and compressed) at the checkpoint
            con.execute("checkpoint")
    finally:
        con.execute("reset force_compression")
    return table


def storage_summary(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """How the features column is stored: segments per compression."""
    rows = con.execute(
        "select compression, count(*) from pragma_storage_info(?) "
        "where column_name = 'features' group by all order by 2 desc",
        [table],
    ).fetchall()
    return ", ".join(f"{c} {k}" for c, k in rows)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best-of-`repeat` wall time of fn() in seconds (the machine is shared: best is fairest)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ort_session(path: Path, intra: int, level: str = "all") -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[level]
    if intra == 1:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def yardstick(sess: ort.InferenceSession, x: np.ndarray, batch: int, py_threads: int) -> None:
    """Score all of x in batches, split over `py_threads` Python threads sharing the session."""
    starts = list(range(0, len(x), batch))

    def work(part: list[int]) -> None:
        for s in part:
            sess.run(["churn_probability"], {"features": x[s : s + batch]})

    if py_threads == 1:
        work(starts)
        return
    ts = [threading.Thread(target=work, args=(starts[i::py_threads],)) for i in range(py_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in the feature table")
    ap.add_argument("--features", type=int, default=60, help="N, features per row")
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 32], help="hidden widths")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    ap.add_argument("--batch", type=int, default=8192, help="yardstick numpy batch size")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions, best is reported")
    ap.add_argument(
        "--occlusion-rows",
        type=int,
        default=50_000,
        help="rows for the (slow) exact occlusion reasons, extrapolated to --rows",
    )
    ap.add_argument("--quick", action="store_true", help="skip the variants (main figures only)")
    ap.add_argument(
        "--db",
        help="DuckDB database file for the feature tables (default: a new file in a temporary "
        "folder, deleted at the end)",
    )
    ap.add_argument(
        "--storage",
        choices=STORAGES,
        default="file",
        help="how the main feature table is stored: 'file' (a database file, DuckDB's default "
        "compression, ALP for floats, after a checkpoint: what the dbt model scoring_examples "
        "writes), 'file-uncompressed' (a database file, written with compression off) or "
        "'memory' (an in-memory table, never compressed: the earlier runs)",
    )
    ap.add_argument(
        "--compare-storage",
        action="store_true",
        help="also time the do-nothing UDF, churn_score and the whole step on the two other "
        "storages",
    )
    ap.add_argument(
        "--model-dir",
        help="a real exported model (artifacts/models/<version>/ with model.onnx and "
        "explain.onnx) instead of the toy MLP; its feature names are used",
    )
    ap.add_argument(
        "--features-db",
        help="with --model-dir: DuckDB file whose main.training_examples rows are tiled to "
        "--rows (realistic values); else random normal values",
    )
    args = ap.parse_args(argv)

    rows, n = args.rows, args.features
    names = feature_list(n)
    tmp = Path(tempfile.mkdtemp(prefix="bench_scoring_"))
    rng = np.random.default_rng(0)
    medians = rng.standard_normal(n).astype(np.float32) * 0.1
    real = None
    if args.model_dir:
        real = Path(args.model_dir).resolve() / "model.onnx"
        meta = ort.InferenceSession(str(real)).get_modelmeta().custom_metadata_map
        names = json.loads(meta["feature_names"])
        n = len(names)
        medians = np.asarray(json.loads(meta["feature_medians"]), np.float32)
    plain = write_model(tmp, names, args.hidden, version="bench-plain", medians=medians)
    attr = write_model(
        tmp, names, args.hidden, version="bench-attr", medians=medians, attribution=True
    )
    if real is not None and args.features_db:
        with duckdb.connect(args.features_db, read_only=True) as src:
            base = np.array(
                src.sql("select features from main.training_examples")
                .fetchnumpy()["features"]
                .tolist(),
                np.float32,
            )
        x = np.ascontiguousarray(np.resize(base, (rows, n)))
    else:
        x = rng.standard_normal((rows, n)).astype(np.float32)

    db_path = Path(args.db) if args.db else tmp / "bench.duckdb"
    con = duckdb.connect(str(db_path))
    con.execute(f"set threads = {args.threads}")
    con.execute("attach ':memory:' as mem")
    create_feature_catalog(con, names)
    feats = pa.table(
        {
            "customer_id": pa.array(np.arange(rows, dtype=np.int64)),
            "features": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), n),
        }
    )
    con.register("feats_arrow", feats)
    storages = STORAGES if args.compare_storage else (args.storage,)
    tables = {}
    for storage in storages:
        tables[storage] = create_feature_table(con, storage, "feats_arrow", n)
    con.unregister("feats_arrow")
    del feats
    con.execute("checkpoint")  # DuckDB compresses the file tables here (not the uncompressed)
    main_table = tables[args.storage]
    for storage, table in tables.items():
        print(f"# {storage}: {table} {storage_summary(con, table)}")

    what = (
        f"real model {real.parent.name}"
        if real is not None
        else f"MLP {n}-{'-'.join(map(str, args.hidden))}-1"
    )
    print(
        f"# {rows:,} rows x {n} features, {what}, DuckDB threads={args.threads}, "
        f"best of {args.repeat}"
    )
    print(
        f"# duckdb {duckdb.__version__}, onnxruntime {ort.__version__}, numpy "
        f"{np.__version__}, pyarrow {pa.__version__}"
    )
    arg = [f"FLOAT[{n}]"]
    r_type = scoring.udf.REASON_SQL_TYPE

    # the real path: scoring.register, plain model + explainer file (as training exports it)
    if real is not None:
        expl_path = real
        plain_path = real
    else:
        expl_path = write_model(
            tmp, names, args.hidden, version="bench-expl", medians=medians, explainer="reasons"
        ).path
        plain_path = plain.path
    m_expl = scoring.register(con, expl_path)
    print(f"# explainer: {m_expl.explainer_method}")
    m_attr = scoring.load_model(con, attr.path)
    m_plain = scoring.load_model(con, plain_path)
    m_first_order = scoring.load_model(
        con,
        write_model(
            tmp, names, args.hidden, version="bench-fo", medians=medians, explainer=True
        ).path,
    )

    def ctas(expr: str, source: str = main_table) -> Callable[[], object]:
        return lambda: con.execute(
            f"create or replace table bench_out as select customer_id, {expr} from {source}"
        )

    def udf_with(sess: ort.InferenceSession) -> Callable[[pa.ChunkedArray], pa.Array]:
        def fn(a: pa.ChunkedArray) -> pa.Array:
            xm = scoring.udf.features_matrix(a, m_plain.feature_names)
            return pa.array(sess.run(["churn_probability"], {"features": xm})[0][:, 0])

        return fn

    def naive(a: pa.ChunkedArray) -> pa.Array:
        xm = np.stack([v.values.to_numpy() for v in a.combine_chunks()])
        return pa.array(m_plain.session.run(["churn_probability"], {"features": xm})[0][:, 0])

    def flatten_copy(a: pa.ChunkedArray) -> pa.Array:
        xm = a.combine_chunks().flatten().to_numpy().reshape(-1, n)
        return pa.array(m_plain.session.run(["churn_probability"], {"features": xm})[0][:, 0])

    s1 = ort_session(plain_path, 1)
    s2 = ort_session(plain_path, 2)
    s_attr = ort_session(attr.path, 1)
    con.create_function(
        "noop", lambda a: pa.array(np.zeros(len(a), np.float32)), arg, "FLOAT", type="arrow"
    )
    con.create_function(
        "score_attr_model", scoring.udf.make_score_function(m_attr), arg, "FLOAT", type="arrow"
    )
    con.create_function(
        "reasons_attr_model", scoring.udf.make_reasons_function(m_attr), arg, r_type, type="arrow"
    )

    # name -> (function, repetitions); measured round-robin so that load changes hit all alike
    cases: dict[str, tuple[Callable[[], object], int]] = {
        "ort numpy, 1 thread (intra-op 1)": (lambda: yardstick(s1, x, args.batch, 1), args.repeat),
        "ort numpy, intra-op 2": (lambda: yardstick(s2, x, args.batch, 1), args.repeat),
        "ort numpy, 2 py threads x intra-op 1": (
            lambda: yardstick(s1, x, args.batch, 2),
            args.repeat,
        ),
        "ort numpy, 2 py threads x intra-op 1, batch 2048": (
            lambda: yardstick(s1, x, 2048, 2),
            args.repeat,
        ),
        "duckdb plumbing only: do-nothing arrow UDF": (ctas("noop(features)"), args.repeat),
        "churn_score in CTAS": (ctas("churn_score(features) as p"), args.repeat),
        "churn_reasons in CTAS (explain.onnx)": (
            ctas("churn_reasons(features) as r"),
            args.repeat,
        ),
        "churn_score_and_reasons in CTAS (whole step, one pass)": (
            ctas("churn_score_and_reasons(features) as s"),
            args.repeat,
        ),
        "whole step, two functions: churn_score + churn_reasons": (
            ctas("churn_score(features) as p, churn_reasons(features) as r"),
            args.repeat,
        ),
    }
    for storage, table in tables.items():
        if storage != args.storage:
            cases[f"do-nothing arrow UDF, {storage} table"] = (
                ctas("noop(features)", table),
                args.repeat,
            )
            cases[f"churn_score in CTAS, {storage} table"] = (
                ctas("churn_score(features) as p", table),
                args.repeat,
            )
            cases[f"churn_score_and_reasons in CTAS, {storage} table"] = (
                ctas("churn_score_and_reasons(features) as s", table),
                args.repeat,
            )
    if not args.quick:
        for b in (32768,):
            cases[f"ort numpy, 2 py threads x intra-op 1, batch {b}"] = (
                lambda b=b: yardstick(s1, x, b, 2),
                args.repeat,
            )
        cases["ort numpy, attribution model, score output only"] = (
            lambda: yardstick(s_attr, x, args.batch, 2),
            args.repeat,
        )
        con.create_function("naive_score", naive, arg, "FLOAT", type="arrow")
        cases["UDF naive: to_numpy per row + np.stack"] = (ctas("naive_score(features)"), 1)
        con.create_function("flat_score", flatten_copy, arg, "FLOAT", type="arrow")
        cases["UDF flatten().to_numpy(), no checks"] = (ctas("flat_score(features)"), args.repeat)
        for label, intra, level in (
            ("ORT intra-op 2", 2, "all"),
            ("graph opt basic", 1, "basic"),
            ("graph opt disabled", 1, "disable"),
        ):
            fname = "v_" + label.replace(" ", "_").replace("-", "_")
            con.create_function(
                fname, udf_with(ort_session(plain_path, intra, level)), arg, "FLOAT", type="arrow"
            )
            cases[f"churn_score body, {label}"] = (ctas(f"{fname}(features)"), args.repeat)
        names_t = m_plain.feature_names

        def iobinding_fn(a: pa.ChunkedArray) -> pa.Array:
            xm = scoring.udf.features_matrix(a, names_t)
            out = np.empty((xm.shape[0], 1), np.float32)
            b = s1.io_binding()
            b.bind_cpu_input("features", xm)
            b.bind_output("churn_probability", "cpu", 0, np.float32, out.shape, out.ctypes.data)
            s1.run_with_iobinding(b)
            return pa.array(out.reshape(-1))

        con.create_function("iob_score", iobinding_fn, arg, "FLOAT", type="arrow")
        cases["churn_score body, io_binding + preallocated output"] = (
            ctas("iob_score(features)"),
            args.repeat,
        )

        def unchecked_fn(a: pa.ChunkedArray) -> pa.Array:
            c = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
            xm = c.values.to_numpy(zero_copy_only=True)[c.offset * n :].reshape(len(c), n)
            return pa.array(s1.run(["churn_probability"], {"features": xm})[0].reshape(-1))

        con.create_function("unchecked_score", unchecked_fn, arg, "FLOAT", type="arrow")
        cases["churn_score body, zero copy, no input checks"] = (
            ctas("unchecked_score(features)"),
            args.repeat,
        )
        spin = ort.SessionOptions()
        spin.intra_op_num_threads = 1
        spin.inter_op_num_threads = 1
        s_spin = ort.InferenceSession(
            str(plain_path), sess_options=spin, providers=["CPUExecutionProvider"]
        )
        con.create_function("spin_score", udf_with(s_spin), arg, "FLOAT", type="arrow")
        cases["churn_score body, ORT defaults (spinning allowed)"] = (
            ctas("spin_score(features)"),
            args.repeat,
        )
        for t in (1, 4):

            def with_threads(t: int = t) -> None:
                con.execute(f"set threads = {t}")
                try:
                    con.execute(
                        "create or replace table bench_out as "
                        f"select customer_id, churn_score(features) from {main_table}"
                    )
                finally:
                    con.execute(f"set threads = {args.threads}")

            cases[f"churn_score in CTAS, DuckDB threads={t}"] = (with_threads, args.repeat)
        cases["churn_score, attribution output inside model.onnx"] = (
            ctas("score_attr_model(features)"),
            args.repeat,
        )
        cases["churn_reasons, attribution output inside model.onnx"] = (
            ctas("reasons_attr_model(features)"),
            args.repeat,
        )
        con.create_function(
            "reasons_first_order",
            scoring.udf.make_reasons_function(m_first_order),
            arg,
            r_type,
            type="arrow",
        )
        cases["churn_reasons, first-order churn_attribution explainer (toy MLP)"] = (
            ctas("reasons_first_order(features)"),
            args.repeat,
        )

    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for r in range(args.repeat):
        for name, (fn, reps) in cases.items():
            if r < reps:
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
                cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - c0)

    ort_keys = [
        "ort numpy, 1 thread (intra-op 1)",
        "ort numpy, intra-op 2",
        "ort numpy, 2 py threads x intra-op 1",
        "ort numpy, 2 py threads x intra-op 1, batch 2048",
    ]
    yard_key = min(ort_keys, key=lambda k: best[k])
    yard = best[yard_key]
    score_t = best["churn_score in CTAS"]
    # CPU yardstick: ONNX Runtime alone on one thread (CPU seconds do not depend on threads)
    cpu_yard_key = min(ort_keys, key=lambda k: cpu[k])
    cpu_yard, cpu_score = cpu[cpu_yard_key], cpu["churn_score in CTAS"]
    print(
        f"{'case':55s} {'wall s':>7s}  {'Mrows/s':>7s}  {'vs yard':>7s}  {'vs score':>8s}  "
        f"{'cpu s':>7s}  {'cpu vs yard':>11s}  {'cpu vs score':>12s}"
    )
    for name in cases:
        t, c = best[name], cpu[name]
        print(
            f"{name:55s} {t:7.3f}  {rows / t / 1e6:7.2f}  {yard / t:6.2f}x  {t / score_t:7.2f}x  "
            f"{c:7.3f}  {cpu_yard / c:10.2f}x  {c / cpu_score:11.2f}x",
            flush=True,
        )
    reasons_key = "churn_reasons in CTAS (explain.onnx)"
    whole_key = "churn_score_and_reasons in CTAS (whole step, one pass)"
    print(f"# yardstick = fastest ONNX Runtime-alone figure (wall): {yard_key}")
    print(
        f"# churn_score / yardstick throughput: {yard / score_t:.2f}x wall, "
        f"{cpu_yard / cpu_score:.2f}x CPU ({cpu_yard_key})"
    )
    print(
        f"# churn_reasons / churn_score cost: {best[reasons_key] / score_t:.2f}x wall, "
        f"{cpu[reasons_key] / cpu_score:.2f}x CPU"
    )
    print(
        f"# churn_score_and_reasons / churn_score cost: {best[whole_key] / score_t:.2f}x wall, "
        f"{cpu[whole_key] / cpu_score:.2f}x CPU"
    )
    print(
        f"# whole scoring step for {rows:,} rows (churn_score_and_reasons): "
        f"{best[whole_key]:.2f} s wall, {cpu[whole_key]:.2f} CPU s"
    )

    # exact occlusion on a subset, extrapolated
    occ_rows = min(args.occlusion_rows, rows)
    con.execute(
        f"create or replace table feats_small as select * from {main_table} "
        f"where customer_id < {occ_rows}"
    )
    occ_fn = scoring.udf.make_reasons_function(m_expl, "occlusion")
    con.create_function(
        "reasons_occlusion", occ_fn, [f"FLOAT[{n}]"], scoring.udf.REASON_SQL_TYPE, type="arrow"
    )
    t_occ = timed(ctas("reasons_occlusion(features) as r", "feats_small"), 1) * rows / occ_rows
    print(
        f"{'churn_reasons, exact occlusion (extrapolated)':55s} {t_occ:7.3f} s  "
        f"{rows / t_occ / 1e6:6.2f} Mrows/s  (measured on {occ_rows:,} rows)  "
        f"{t_occ / score_t:5.1f}x churn_score cost"
    )

    # agreement of the explainer vs exact occlusion on the subset
    got = con.sql(
        "select customer_id, churn_reasons(features) a, reasons_occlusion(features) o "
        "from feats_small order by customer_id limit 20000"
    ).fetchall()
    same_top1 = statistics.mean(
        (a[0]["feature"] if a else None) == (o[0]["feature"] if o else None) for _, a, o in got
    )
    same_set = statistics.mean(
        {r["feature"] for r in a} == {r["feature"] for r in o} for _, a, o in got
    )
    print(
        f"# explainer vs exact occlusion on {len(got):,} rows: same top reason "
        f"{same_top1:.1%}, same top-3 set {same_set:.1%}"
    )
    con.close()
    if not args.db:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
