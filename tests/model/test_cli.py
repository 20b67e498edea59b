"""End to end: `train`, `evaluate`, `models list|promote|rollback`, `ensure_model`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from models_py import registry
from models_py.cli import main
from models_py.train import TrainConfig

FAST = ["--no-search", "--max-epochs", "3"]


@pytest.mark.slow
def test_train_evaluate_list_and_ensure_model(synthetic_db, tmp_path, capsys):
    art = tmp_path / "art"
    assert main(["train", "--db", str(synthetic_db), "--artifacts", str(art), *FAST]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/3" in out and "active" in out
    with duckdb.connect(str(synthetic_db)) as con:
        [rec] = registry.list_models(con)
    assert rec.status == "active" and rec.churn_horizon_days == 30
    folder = art.resolve() / "models" / rec.model_version
    assert Path(rec.onnx_path) == folder / "model.onnx"
    assert rec.onnx_sha256 == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    names = {p.name for p in folder.iterdir()}
    assert {
        "model.onnx",
        "model_card.md",
        "roc.png",
        "pr.png",
        "calibration.png",
        "lift.png",
        "score_histogram.png",
    } <= names
    card = (folder / "model_card.md").read_text()
    assert rec.model_version in card and "## Risk tiers" in card

    assert main(["evaluate", "--db", str(synthetic_db)]) == 0
    out = capsys.readouterr().out
    assert rec.model_version in out and "roc_auc" in out and "recency baseline" in out
    assert f"{rec.metrics['test']['pr_auc']:.4f}" in out  # same figure as at training time

    assert main(["models", "list", "--db", str(synthetic_db)]) == 0
    assert rec.model_version in capsys.readouterr().out
    assert main(["models", "rollback", "--db", str(synthetic_db)]) == 2  # nothing older

    # the project now says horizon 28: the 30-day model is not used, a new one is trained
    messages: list[str] = []
    fast = TrainConfig(search=False, max_epochs=3)
    new = registry.ensure_model(
        synthetic_db, horizon_days=28, artifacts=art, config=fast, log=messages.append
    )
    assert new.churn_horizon_days == 28 and new.model_version != rec.model_version
    assert any("horizon 30 days, the project is configured for 28" in m for m in messages)
    again = registry.ensure_model(
        synthetic_db, horizon_days=28, artifacts=art, config=fast, log=print
    )
    assert again.model_version == new.model_version

    assert main(["models", "rollback", "--db", str(synthetic_db)]) == 0
    with duckdb.connect(str(synthetic_db)) as con:
        assert registry.get_active(con).model_version == rec.model_version
    assert main(["models", "promote", new.model_version, "--db", str(synthetic_db)]) == 0
