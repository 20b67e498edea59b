"""The DuckDB functions: parity with ONNX Runtime, reasons, refused inputs, threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pytest

import scoring
from scoring.udf import ScoringInputError, features_matrix, make_score_function
from tests.conftest import ScoringDb
from tests.helpers.toy_model import write_model

REPO = Path(__file__).resolve().parents[2]


def _ort_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["churn_probability"], {"features": x})[0][:, 0]


def _scores(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    rows = con.sql(
        "select churn_score(features) from main.scoring_examples order by customer_id"
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.float32)


def test_churn_score_equals_onnx_runtime(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con)
    got = _scores(scoring_db.con)
    want = _ort_probabilities(scoring_db.model.path, scoring_db.x)
    assert got.shape == want.shape == (scoring_db.x.shape[0],)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # and the toy model is what we think it is (numpy forward pass)
    np.testing.assert_allclose(got, scoring_db.model.reference(scoring_db.x), atol=1e-5)
    assert got.std() > 0.01  # not a constant


def test_version_and_thresholds_functions(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con)
    version, thresholds = scoring_db.con.sql(
        "select churn_model_version(), churn_model_thresholds()"
    ).fetchall()[0]
    assert version == scoring_db.model.version
    assert thresholds == scoring_db.model.thresholds


def _occlusion_reference(path: Path, x: np.ndarray, medians: list[float]) -> np.ndarray:
    """Impact[i, j] = p(x_i) - p(x_i with feature j at its median), one feature at a time."""
    p = _ort_probabilities(path, x)
    impact = np.empty_like(x)
    for j in range(x.shape[1]):
        y = x.copy()
        y[:, j] = medians[j]
        impact[:, j] = p - _ort_probabilities(path, y)
    return impact


def test_churn_reasons_are_the_top_three_occlusion_impacts(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con, reasons="occlusion")
    rows = scoring_db.con.sql(
        "select churn_reasons(features) from main.scoring_examples order by customer_id"
    ).fetchall()
    x = scoring_db.x
    impact = _occlusion_reference(scoring_db.model.path, x, scoring_db.model.medians)
    names = scoring_db.names
    n_empty = 0
    for i, (reasons,) in enumerate(rows):
        order = [j for j in np.argsort(-impact[i], kind="stable")[:3] if impact[i, j] > 0]
        assert [r["feature"] for r in reasons] == [names[j] for j in order], i
        for r, j in zip(reasons, order, strict=True):
            assert r["value"] == pytest.approx(float(x[i, j]), abs=1e-6)
            assert r["impact"] == pytest.approx(float(impact[i, j]), abs=1e-5)
        n_empty += not reasons
    assert n_empty < len(rows)  # something was explained


@pytest.mark.parametrize("explainer", [False, True])
def test_reasons_from_attribution_output(
    tmp_path: Path, scoring_db: ScoringDb, explainer: bool
) -> None:
    m = write_model(
        tmp_path / "attr",
        scoring_db.names,
        hidden=(16, 8),
        version="attr-v1",
        medians=[0.1] * 8,
        seed=3,
        attribution=not explainer,
        explainer=explainer,
    )
    from tests.helpers.toy_model import register_in_registry

    register_in_registry(scoring_db.con, m)
    loaded = scoring.register(scoring_db.con)
    assert loaded.has_attribution
    rows = scoring_db.con.sql(
        "select churn_reasons(features) from main.scoring_examples order by customer_id limit 50"
    ).fetchall()
    source = m.path.parent / "explain.onnx" if explainer else m.path
    sess = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    attr = sess.run(["churn_attribution"], {"features": scoring_db.x[:50]})[0]
    # churn_score still comes from model.onnx itself
    np.testing.assert_allclose(
        _scores(scoring_db.con)[:50], _ort_probabilities(m.path, scoring_db.x[:50]), atol=1e-6
    )
    for i, (reasons,) in enumerate(rows):
        order = [j for j in np.argsort(-attr[i], kind="stable")[:3] if attr[i, j] > 0]
        assert [r["feature"] for r in reasons] == [scoring_db.names[j] for j in order]


@pytest.mark.parametrize(
    ("hidden", "n_candidates"),
    [((), 8), ((16, 8), 8), ((16, 8), 3), ((16,), 8), ((16,), 3)],
    ids=[
        "logreg-all-exact",
        "mlp-all-exact",
        "mlp-3-candidates",
        "mlp1-all-exact",
        "mlp1-3-candidates",
    ],
)
def test_reasons_from_exported_explainer_are_exact_occlusion(
    tmp_path: Path, scoring_db: ScoringDb, hidden: tuple[int, ...], n_candidates: int
) -> None:
    """The explainer training exports (models_py.explain): every reported impact is the exact
    occlusion impact through model.onnx; with every feature a candidate (logistic regression,
    or K = N) the reasons are exactly those of full exact occlusion."""
    from tests.helpers.toy_model import register_in_registry

    n = len(scoring_db.names)
    m = write_model(
        tmp_path / "expl",
        scoring_db.names,
        hidden=hidden,
        version="expl-v1",
        medians=[0.1] * n,
        seed=4,
        explainer="reasons",
        n_candidates=n_candidates,
    )
    register_in_registry(scoring_db.con, m)
    loaded = scoring.register(scoring_db.con)
    assert loaded.explainer_kind == "reasons" and loaded.explainer is not loaded.session
    # more rows than one explainer run, so the sub-batching is exercised
    rows = scoring_db.con.sql(
        "select churn_score(features), churn_reasons(features) from main.scoring_examples "
        "order by customer_id"
    ).fetchall()
    x = scoring_db.x
    p = np.array([r[0] for r in rows], np.float32)
    np.testing.assert_allclose(p, _ort_probabilities(m.path, x), atol=1e-6)
    impact = _occlusion_reference(m.path, x, m.medians)
    all_exact = not hidden or n_candidates >= n
    same = 0
    for i, (_, reasons) in enumerate(rows):
        order = [j for j in np.argsort(-impact[i], kind="stable")[:3] if impact[i, j] > 0]
        got = [scoring_db.names.index(r["feature"]) for r in reasons]
        for r, j in zip(reasons, got, strict=True):
            assert r["impact"] == pytest.approx(float(impact[i, j]), abs=1e-5)
            assert r["impact"] > 0
            assert r["value"] == pytest.approx(float(x[i, j]), abs=1e-6)
        assert [r["impact"] for r in reasons] == sorted(
            (r["impact"] for r in reasons), reverse=True
        )
        if all_exact:
            assert got == order, i
        same += got == order
    if not all_exact:
        assert same / len(rows) > 0.5  # candidates by gradient: mostly the true top 3


def _assert_combined_equals_separate(con: duckdb.DuckDBPyConnection, n_rows: int) -> None:
    rows = con.sql(
        "select churn_score(features), churn_reasons(features), "
        "churn_score_and_reasons(features) from main.scoring_examples order by customer_id"
    ).fetchall()
    assert len(rows) == n_rows
    p = np.array([r[0] for r in rows], np.float32)
    p_both = np.array([r[2]["churn_probability"] for r in rows], np.float32)
    np.testing.assert_allclose(p_both, p, rtol=0, atol=1e-6)
    assert [r[2]["reasons"] for r in rows] == [r[1] for r in rows]
    assert sum(bool(r[1]) for r in rows) > 0  # something was explained


@pytest.mark.parametrize(
    ("hidden", "explainer"),
    [((), "reasons"), ((16,), "reasons"), ((16, 8), "reasons"), ((16, 8), True)],
    ids=["logreg", "mlp1", "mlp2", "attribution"],
)
def test_score_and_reasons_equals_the_two_functions(
    tmp_path: Path, scoring_db: ScoringDb, hidden: tuple[int, ...], explainer: bool | str
) -> None:
    """The combined function (one network pass, what churn_scores calls) returns what
    churn_score and churn_reasons return, for every kind of explainer."""
    from tests.helpers.toy_model import register_in_registry

    n = len(scoring_db.names)
    m = write_model(
        tmp_path / "both",
        scoring_db.names,
        hidden=hidden,
        version="both-v1",
        medians=[0.1] * n,
        seed=5,
        explainer=explainer,
        n_candidates=3,
    )
    register_in_registry(scoring_db.con, m)
    scoring.register(scoring_db.con)
    _assert_combined_equals_separate(scoring_db.con, scoring_db.x.shape[0])


def test_score_and_reasons_by_occlusion_equals_the_two_functions(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con, reasons="occlusion")
    _assert_combined_equals_separate(scoring_db.con, scoring_db.x.shape[0])


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "list_transform(features, lambda v, i: case when i = 3 then 'nan'::float else v end)",
            r"feature 'revenue_90d' \(position 3\) is nan",
        ),
        (
            "list_transform(features, lambda v, i: case when i = 8 then null else v end)",
            r"feature 'feature_007' \(position 8\) is NULL",
        ),
        (
            "list_transform(features, lambda v, i: case when i = 2 then 'inf'::float else v end)",
            r"feature 'orders_90d' \(position 2\) is inf",
        ),
        (
            "case when customer_id = 'c000007' then null else features end",
            r"features is NULL in 1 row",
        ),
    ],
)
@pytest.mark.parametrize("fn", ["churn_score", "churn_reasons", "churn_score_and_reasons"])
def test_null_and_nan_never_reach_the_model(
    scoring_db: ScoringDb, fn: str, expr: str, message: str
) -> None:
    scoring.register(scoring_db.con)
    sql = (
        f"select {fn}(({expr})::float[8]) from main.scoring_examples "
        "where customer_id in ('c000006', 'c000007')"
    )
    with pytest.raises(duckdb.Error, match=message):
        scoring_db.con.sql(sql).fetchall()


def test_wrong_width_is_refused_in_sql(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con)
    with pytest.raises(duckdb.Error, match=r"churn_score\(FLOAT\[7\]\)[\s\S]*FLOAT\[8\]"):
        scoring_db.con.sql(
            "select churn_score(features[1:7]::float[7]) from main.scoring_examples"
        ).fetchall()
    with pytest.raises(duckdb.Error, match="length 9 to array with length 8"):
        scoring_db.con.sql(
            "select churn_score(list_append(features, 1)::float[]) from main.scoring_examples"
        ).fetchall()


def test_wrong_width_or_type_is_refused_by_the_function(scoring_db: ScoringDb) -> None:
    m = scoring.load_model(scoring_db.con)
    fn = make_score_function(m)
    seven = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(14, np.float32)), 7)
    with pytest.raises(ScoringInputError, match=r"must be FLOAT\[8\] .* got FLOAT\[7\]"):
        fn(seven)
    ragged = pa.array([[0.0] * 8, [0.0] * 9], type=pa.list_(pa.float32()))
    with pytest.raises(ScoringInputError, match="must have 8 values .* list of 9"):
        fn(ragged)
    doubles = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(16, np.float64)), 8)
    with pytest.raises(ScoringInputError, match="float32"):
        fn(doubles)


def test_features_matrix_is_zero_copy_and_respects_slices() -> None:
    x = np.arange(40, dtype=np.float32).reshape(5, 8)
    arr = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 8)
    names = tuple(f"f{i}" for i in range(8))
    m = features_matrix(arr, names)
    np.testing.assert_array_equal(m, x)
    assert np.shares_memory(m, arr.values.to_numpy())
    np.testing.assert_array_equal(features_matrix(arr.slice(2, 2), names), x[2:4])
    chunked = pa.chunked_array([arr.slice(0, 2), arr.slice(2, 3)])
    np.testing.assert_array_equal(features_matrix(chunked, names), x)


def test_correct_with_two_duckdb_threads_and_cursors(scoring_db: ScoringDb) -> None:
    import threading

    scoring.register(scoring_db.con)
    scoring_db.con.execute("set threads = 2")
    scoring_db.con.execute(
        "create table big as select * from main.scoring_examples, range(20) t(k)"
    )
    want = _ort_probabilities(scoring_db.model.path, scoring_db.x)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            cur = scoring_db.con.cursor()
            rows = cur.sql(
                "select customer_id, k, churn_score(features) from big order by customer_id, k"
            ).fetchall()
            results[i] = np.array([r[2] for r in rows], dtype=np.float32)
            cur.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results.values():
        np.testing.assert_allclose(got, np.repeat(want, 20), atol=1e-6)


def test_register_twice_on_the_same_connection(scoring_db: ScoringDb) -> None:
    scoring.register(scoring_db.con)
    scoring.register(scoring_db.con, scoring_db.model.version)
    assert len(_scores(scoring_db.con)) == scoring_db.x.shape[0]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - the caller checks returncode
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scoring_path_imports_no_tensorflow(scoring_db: ScoringDb) -> None:
    scoring_db.con.close()
    proc = _run(
        f"""
        import sys, duckdb, scoring
        con = duckdb.connect({str(scoring_db.path)!r})
        scoring.register(con)
        n = con.sql("select count(churn_score(features)), count(churn_reasons(features)) "
                    "from main.scoring_examples").fetchall()[0]
        assert n[0] > 0 and n[1] > 0, n
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras',
                       'tf2onnx', 'models_py', 'onnx'))
        print('HEAVY', heavy)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_no_crash_when_the_registering_connection_closes(scoring_db: ScoringDb) -> None:
    """STACK.md: calling a function whose registering connection closed crashed the process."""
    scoring_db.con.close()
    proc = _run(
        f"""
        import gc, duckdb, scoring
        a = duckdb.connect({str(scoring_db.path)!r})
        b = duckdb.connect({str(scoring_db.path)!r})   # same database instance
        cur = a.cursor()
        scoring.register(cur)
        cur.close(); a.close(); del cur, a; gc.collect()
        print(b.sql("select count(churn_score(features)) from main.scoring_examples").fetchall())
        scoring.register(b)   # same model on the same database: reuses what is registered
        print(b.sql("select count(churn_score(features)) from main.scoring_examples").fetchall())
        """
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.count("[(3000,)]") == 2
