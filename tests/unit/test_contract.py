"""The Python contract and the dbt macro's copy of it agree."""

from __future__ import annotations

import jinja2
import pytest

from churnwatch.config import DBT_PROJECT_DIR
from churnwatch.contract import ENTITIES, ENTITY_BY_NAME


class _ReturnedError(Exception):
    def __init__(self, value: object) -> None:
        self.value = value


def _raise_return(value: object) -> None:
    raise _ReturnedError(value)


def _dbt_contract() -> dict:
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = _raise_return
    source = (DBT_PROJECT_DIR / "macros" / "contract.sql").read_text()
    module = env.from_string(source).module
    with pytest.raises(_ReturnedError) as ret:
        module.cw_contract()
    return ret.value.value  # type: ignore[attr-defined]


def test_same_entities_columns_and_types() -> None:
    dbt = _dbt_contract()
    assert list(dbt) == [e.name for e in ENTITIES]
    for name, spec in dbt.items():
        entity = ENTITY_BY_NAME[name]
        assert [c["name"] for c in spec["columns"]] == entity.column_names
        assert [c["type"].upper() for c in spec["columns"]] == [c.sql_type for c in entity.columns]
        assert [c["name"] for c in spec["columns"] if c.get("required")] == [
            c.name for c in entity.columns if c.not_null
        ]
        assert [c["name"] for c in spec["columns"] if c.get("pii")] == [
            c.name for c in entity.columns if c.pii
        ]
        assert tuple(spec["key"]) == entity.key
        assert {k: tuple(v) for k, v in spec["enums"].items()} == entity.enums


def test_required_columns_are_the_contract_keys() -> None:
    assert ENTITY_BY_NAME["orders"].required_columns == [
        "order_id",
        "customer_id",
        "ordered_at",
        "amount",
    ]
    assert not ENTITY_BY_NAME["customers"].required
    assert ENTITY_BY_NAME["orders"].required
