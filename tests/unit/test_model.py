"""Loading and verifying the model: registry, sha256, feature list, metadata."""

from __future__ import annotations

import pytest

from scoring.model import ModelError, NoActiveModelError, clear_session_cache, load_model
from tests.conftest import ScoringDb
from tests.helpers.toy_model import create_feature_catalog, register_in_registry, write_model


def test_loads_active_model(scoring_db: ScoringDb) -> None:
    m = load_model(scoring_db.con)
    assert m.version == scoring_db.model.version
    assert m.sha256 == scoring_db.model.sha256
    assert list(m.feature_names) == scoring_db.names
    assert m.thresholds == scoring_db.model.thresholds
    assert m.n_features == len(scoring_db.names)


def test_session_is_cached_per_path_and_sha(scoring_db: ScoringDb) -> None:
    clear_session_cache()
    a = load_model(scoring_db.con)
    b = load_model(scoring_db.con, scoring_db.model.version)
    c = load_model(scoring_db.con, scoring_db.model.path)
    assert a.session is b.session is c.session


def test_no_registry_means_no_active_model(tmp_path, scoring_db: ScoringDb) -> None:
    scoring_db.con.execute("drop table main.model_registry")
    with pytest.raises(NoActiveModelError, match="run `churnwatch train` first"):
        load_model(scoring_db.con)


def test_no_active_row_means_no_active_model(scoring_db: ScoringDb) -> None:
    scoring_db.con.execute("update main.model_registry set status = 'candidate'")
    with pytest.raises(NoActiveModelError, match="run `churnwatch train` first"):
        load_model(scoring_db.con)


def test_tampered_file_is_refused(scoring_db: ScoringDb) -> None:
    path = scoring_db.model.path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # one bit in the last initializer
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 of .* the registry expects"):
        load_model(scoring_db.con)
    with pytest.raises(ModelError, match="sha256"):
        load_model(scoring_db.con, path)  # by path too: the registry row of its version


def test_feature_renamed_in_catalog_is_refused(scoring_db: ScoringDb) -> None:
    names = list(scoring_db.names)
    names[2] = "revenue_30d"
    create_feature_catalog(scoring_db.con, names)
    with pytest.raises(ModelError, match="feature 3: main.feature_catalog has 'revenue_30d'"):
        load_model(scoring_db.con)


def test_features_reordered_is_refused(scoring_db: ScoringDb) -> None:
    names = list(scoring_db.names)
    names[0], names[1] = names[1], names[0]
    create_feature_catalog(scoring_db.con, names)
    with pytest.raises(ModelError, match="feature 1: main.feature_catalog has 'orders_90d'"):
        load_model(scoring_db.con)


def test_feature_added_to_catalog_is_refused(scoring_db: ScoringDb) -> None:
    create_feature_catalog(scoring_db.con, [*scoring_db.names, "new_feature"])
    with pytest.raises(
        ModelError, match="has 9 features, .* has 8; first unmatched: 'new_feature'"
    ):
        load_model(scoring_db.con)


def test_registry_feature_names_must_match(tmp_path, scoring_db: ScoringDb) -> None:
    names = list(scoring_db.names)
    other = write_model(tmp_path / "m2", names, hidden=(4,), version="v2", medians=[0.0] * 8)
    bad = list(names)
    bad[7] = "renamed"
    register_in_registry(scoring_db.con, other, feature_names=bad)
    with pytest.raises(ModelError, match=r"model_registry\) has 'renamed'"):
        load_model(scoring_db.con)


def test_metadata_feature_names_must_match(tmp_path, scoring_db: ScoringDb) -> None:
    names = list(scoring_db.names)
    meta = [*names[:5], "x", *names[6:]]
    other = write_model(
        tmp_path / "m3", names, hidden=(4,), version="v3", metadata_feature_names=meta
    )
    register_in_registry(scoring_db.con, other)
    with pytest.raises(ModelError, match=r"feature 6: .* \(ONNX metadata\) has 'x'"):
        load_model(scoring_db.con)


def test_input_width_must_match(tmp_path, scoring_db: ScoringDb) -> None:
    names = list(scoring_db.names)
    other = write_model(tmp_path / "m4", names, hidden=(4,), version="v4", input_width=7)
    register_in_registry(scoring_db.con, other)
    with pytest.raises(ModelError, match=r"input 'features' is .* expected .*\[batch, 8\]"):
        load_model(scoring_db.con)


def test_unknown_version_is_refused(scoring_db: ScoringDb) -> None:
    with pytest.raises(ModelError, match="'nope' is not in main.model_registry"):
        load_model(scoring_db.con, "nope")


def test_two_active_rows_are_refused(tmp_path, scoring_db: ScoringDb) -> None:
    other = write_model(tmp_path / "m5", scoring_db.names, hidden=(4,), version="v5")
    register_in_registry(scoring_db.con, other)
    scoring_db.con.execute("update main.model_registry set status = 'active'")
    with pytest.raises(ModelError, match="more than one active model"):
        load_model(scoring_db.con)


@pytest.mark.parametrize("kind", ["attribution", "reasons"])
def test_explainer_file_is_verified(tmp_path, scoring_db: ScoringDb, kind: str) -> None:
    m = write_model(tmp_path / "e", scoring_db.names, hidden=(4,), version="e1", explainer=kind)
    register_in_registry(scoring_db.con, m)
    clear_session_cache()
    loaded = load_model(scoring_db.con)
    assert loaded.has_attribution and loaded.explainer is not loaded.session
    assert loaded.explainer_kind == kind
    explain = m.path.parent / "explain.onnx"
    explain.write_bytes(explain.read_bytes() + b"\x00")
    with pytest.raises(ModelError, match="sha256 of explainer .* changed after export"):
        load_model(scoring_db.con)
