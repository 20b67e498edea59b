"""The feature list: one ordered, duplicate-free list whose one-hot groups have an `other`."""

from __future__ import annotations

from churnwatch.config import dbt_project_vars
from churnwatch.features import feature_names


def test_feature_names_is_the_dbt_var_in_order():
    names = feature_names()
    assert names == [str(n) for n in dbt_project_vars()["feature_names"]]
    assert len(names) == len(set(names))
    assert all(n == n.lower() and n.isidentifier() for n in names)


def test_every_one_hot_group_has_an_other_bucket():
    names = feature_names()
    for prefix in ("gender", "country", "channel"):
        group = [n for n in names if n.startswith(prefix + "_")]
        assert len(group) >= 2, prefix
        assert f"{prefix}_other" in group, prefix
