"""End to end through dbt: the scoring.plugin on dbt's connection, threads: 2, churn_scores.

A temporary dbt project = tests/fixtures/dbt_scoring (profile with the plugin, threads: 2, an
upstream `scoring_examples`) + the real scoring files from dbt_project/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import onnxruntime as ort
import pytest

from tests.helpers.toy_model import (
    create_feature_catalog,
    create_scoring_examples,
    feature_list,
    register_in_registry,
    write_model,
)

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
N = 8
ROWS = 3000

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "project"
    shutil.copytree(REPO / "tests/fixtures/dbt_scoring", proj)
    shutil.copytree(REPO / "dbt_project/models/marts/scoring", proj / "models/marts/scoring")
    shutil.copytree(REPO / "dbt_project/macros/scoring", proj / "macros/scoring")
    return proj


def dbt(project: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHURNWATCH_DB": str(db),
        "PYTHONPATH": str(REPO),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(  # noqa: PLW1510 - the caller checks returncode
        [
            str(DBT),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--log-path",
            str(project / "logs"),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _scores(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(
            "select customer_id, as_of_date, churn_probability, risk_tier, reason_1, reason_2, "
            "reason_3, model_version, scored_at from main.churn_scores "
            "order by as_of_date, customer_id"
        ).fetchall()
    finally:
        con.close()


def test_dbt_build_scores_in_database_and_rebuilds_idempotently(
    project: Path, tmp_path: Path
) -> None:
    names = feature_list(N)
    db = tmp_path / "churn.duckdb"
    con = duckdb.connect(str(db))
    create_feature_catalog(con, names)
    x = create_scoring_examples(con, names, ROWS, table="main.scoring_input")
    con.close()

    # 1. no model yet: upstream builds, churn_scores fails saying what to do
    proc = dbt(project, db, "build")
    assert proc.returncode != 0
    assert "run `churnwatch train` first" in proc.stdout
    assert "OK created sql table model main.scoring_examples" in proc.stdout
    assert "OK created sql table model main.customer_count" in proc.stdout
    assert dbt(project, db, "build", "--exclude", "tag:scoring").returncode == 0

    # 2. a model is trained: dbt build scores (threads: 2), every test passes
    model = write_model(tmp_path / "models", names, hidden=(16, 8), medians=[0.1] * N, seed=5)
    con = duckdb.connect(str(db))
    register_in_registry(con, model)
    con.close()
    proc = dbt(project, db, "build")
    assert proc.returncode == 0, proc.stdout
    assert "Concurrency: 2 threads" in proc.stdout
    first = _scores(db)
    assert len(first) == ROWS
    sess = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    want = sess.run(["churn_probability"], {"features": x})[0][:, 0]
    np.testing.assert_allclose([r[2] for r in first], want, atol=1e-6)
    hi, med = model.thresholds["high"], model.thresholds["medium"]
    tiers = ["high" if p >= hi else "medium" if p >= med else "low" for p in want]
    assert [r[3] for r in first] == tiers
    assert {r[7] for r in first} == {model.version}
    with_reason = [r[4] for r in first if r[4] is not None]
    assert with_reason and all("=" in r and "(+" in r for r in with_reason)

    # 3. same as-of date, same model: replaced, never duplicated
    proc = dbt(project, db, "build", "--select", "tag:scoring")
    assert proc.returncode == 0, proc.stdout
    second = _scores(db)
    assert len(second) == ROWS
    assert [r[:8] for r in second] == [r[:8] for r in first]
    assert second[0][8] > first[0][8]  # rescored

    # 4. a new as-of date adds rows and keeps the earlier ones
    con = duckdb.connect(str(db))
    create_scoring_examples(con, names, ROWS, table="main.scoring_input", as_of_date="2024-08-08")
    con.close()
    assert dbt(project, db, "build").returncode == 0
    third = _scores(db)
    assert len(third) == 2 * ROWS
    assert len({(r[0], r[1]) for r in third}) == 2 * ROWS

    # 5. the model file is changed after registration: churn_scores refuses it
    model.path.write_bytes(model.path.read_bytes() + b"\x00")
    proc = dbt(project, db, "build", "--select", "tag:scoring")
    assert proc.returncode != 0
    assert "the file changed after registration" in proc.stdout
    assert len(_scores(db)) == 2 * ROWS  # nothing lost
