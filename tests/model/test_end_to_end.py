"""The whole job on a small sample shop: ingest, features, train, score; reruns reuse the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnwatch.cli import main as churnwatch_main
from churnwatch.config import RunSettings
from churnwatch.pipeline import run_pipeline
from tests.conftest import query


@pytest.mark.slow
def test_sample_shop_end_to_end(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    assert (
        churnwatch_main(
            [
                "sample",
                "--customers",
                "1500",
                "--days",
                "360",
                "--seed",
                "5",
                "--out",
                str(shop),
                "--no-progress",
            ]
        )
        == 0
    )
    db = tmp_path / "shop.duckdb"
    artifacts = tmp_path / "artifacts"
    run_pipeline(shop, db, RunSettings(), train=True, artifacts=artifacts)

    ((version, onnx_path),) = query(
        db, "select model_version, onnx_path from main.model_registry where status = 'active'"
    )
    assert Path(onnx_path).is_file() and Path(onnx_path).is_relative_to(artifacts)
    n_examples = query(db, "select count(*) from main.scoring_examples")[0][0]
    assert n_examples > 100
    rows = query(
        db,
        "select count(*), count(distinct customer_id), min(churn_probability), "
        "max(churn_probability), count(distinct model_version), any_value(model_version), "
        "count(*) filter (where reason_1 is null) from main.churn_scores",
    )[0]
    assert rows[0] == rows[1] == n_examples
    assert 0.0 <= rows[2] < rows[3] <= 1.0
    assert rows[4] == 1 and rows[5] == version
    assert rows[6] == 0
    tiers = dict(query(db, "select risk_tier, count(*) from main.churn_scores group by 1"))
    assert set(tiers) <= {"high", "medium", "low"} and len(tiers) >= 2

    # A second run on the same data keeps the model and replaces the scores, never duplicates.
    run_pipeline(shop, db, RunSettings(), train=True, artifacts=artifacts)
    assert query(db, "select count(*) from main.model_registry") == [(1,)]
    assert query(db, "select count(*), count(distinct customer_id) from main.churn_scores") == [
        (n_examples, n_examples)
    ]
