"""The sample shop's output goes through ingestion and staging exactly as its manifest says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churnwatch.cli import main as churnwatch_main
from churnwatch.config import RunSettings
from churnwatch.pipeline import run_pipeline
from tests.conftest import query


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rejections_match_the_manifest(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "shop"
    churnwatch_main(
        [
            "sample",
            "--customers",
            "600",
            "--days",
            "150",
            "--seed",
            "11",
            "--out",
            str(out),
            "--format",
            fmt,
            "--defect-rate",
            "0.02",
            "--no-progress",
        ]
    )
    manifest = json.loads((out / "_manifest.json").read_text())
    db = tmp_path / "shop.duckdb"
    run_pipeline(out, db, RunSettings())

    audit = {
        r[0]: r[1:]
        for r in query(
            db,
            "select entity, rows_read, rows_loaded, rows_rejected, rows_duplicate "
            "from staging.ingest_audit",
        )
    }
    reasons: dict[str, dict[str, int]] = {}
    for entity, reason, n in query(
        db, "select entity, reason, count(*) from staging.rejected_rows group by all"
    ):
        reasons.setdefault(entity, {})[reason] = n

    checked = 0
    for entity, spec in manifest["entities"].items():
        read, loaded, rejected, duplicate = audit[entity]
        assert read == spec["rows_written"], entity
        assert rejected == spec["rows_rejected_total"], entity
        assert duplicate == spec["rows_duplicate"], entity
        assert loaded == spec["rows_loaded"], entity
        assert reasons.get(entity, {}) == spec["rows_rejected"], entity
        checked += spec["rows_rejected_total"]
    assert checked > 50  # the test is only meaningful with many defects
