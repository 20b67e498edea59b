"""The feature vector: one ordered list of names, kept in dbt_project.yml `vars: feature_names`.

The marts' `features FLOAT[N]` column, main.feature_catalog, the model input and the scoring UDF
all follow this order; docs/features.md says what each feature means.
"""

from __future__ import annotations

from churnwatch.config import dbt_project_vars


def feature_names() -> list[str]:
    """The ordered feature names (the model input's columns).

    Raises:
        ValueError: when the list is missing, empty or has duplicates.
    """
    names = dbt_project_vars().get("feature_names")
    if not names or not isinstance(names, list):
        raise ValueError("dbt_project.yml has no `vars: feature_names` list.")
    names = [str(n) for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"feature_names has duplicates: {', '.join(dupes)}")
    return names
