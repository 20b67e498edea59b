"""Ingestion + staging on a deliberately messy shop: every defect lands where it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churnwatch.config import RunSettings
from churnwatch.contract import ENTITIES, PII_COLUMNS
from churnwatch.pipeline import run_pipeline
from tests.conftest import DATA_DIR, query

# entity -> (rows_read, rows_loaded, rows_rejected, rows_duplicate), counted by hand from
# tests/data/messy_shop (each file's comment-free lines; see the reasons test below).
EXPECTED_AUDIT = {
    "orders": (15, 6, 7, 2),
    "order_items": (7, 3, 3, 1),
    "customers": (5, 3, 2, 0),
    "events": (5, 3, 2, 0),
    "reviews": (4, 2, 1, 1),
    "support_tickets": (2, 1, 1, 0),
    "email_events": (0, 0, 0, 0),
}

EXPECTED_REASONS = {
    ("orders", "unparseable_ordered_at"): 1,
    ("orders", "negative_amount"): 1,
    ("orders", "unknown_status"): 1,
    ("orders", "missing_order_id"): 1,
    ("orders", "future_ordered_at"): 1,
    ("orders", "malformed_csv_line"): 1,
    ("orders", "unparseable_amount"): 1,
    ("order_items", "negative_quantity"): 1,
    ("order_items", "orphan_order_item"): 2,
    ("customers", "unparseable_signup_at"): 1,
    ("customers", "missing_customer_id"): 1,
    ("events", "unknown_event_type"): 1,
    ("events", "negative_duration_seconds"): 1,
    ("reviews", "out_of_range_rating"): 1,
    ("support_tickets", "out_of_range_satisfaction"): 1,
}


@pytest.fixture(scope="module")
def messy_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("messy") / "shop.duckdb"
    run_pipeline(DATA_DIR / "messy_shop", db, RunSettings())
    return db


def test_audit_counts_and_row_conservation(messy_db: Path) -> None:
    rows = query(
        messy_db,
        "select entity, rows_read, rows_loaded, rows_rejected, rows_duplicate "
        "from staging.ingest_audit",
    )
    got = {r[0]: tuple(r[1:]) for r in rows}
    assert got == EXPECTED_AUDIT
    for read, loaded, rejected, duplicate in got.values():
        assert read == loaded + rejected + duplicate


def test_every_rejected_row_has_its_reason(messy_db: Path) -> None:
    rows = query(
        messy_db, "select entity, reason, count(*) from staging.rejected_rows group by all"
    )
    assert {(e, r): n for e, r, n in rows} == EXPECTED_REASONS


def test_rejected_rows_name_file_and_row(messy_db: Path) -> None:
    rows = query(
        messy_db,
        "select source_file, source_row, source_line, raw_record from staging.rejected_rows "
        "where entity = 'orders' and reason = 'negative_amount'",
    )
    assert len(rows) == 1
    source_file, source_row, _, raw = rows[0]
    assert source_file.endswith("messy_shop/orders.csv")
    assert source_row == 5  # O5 is the fifth record of the file
    assert json.loads(raw)["amount"] == "-4.00"
    malformed = query(
        messy_db,
        "select source_line, raw_record from staging.rejected_rows "
        "where reason = 'malformed_csv_line'",
    )
    assert malformed[0][0] == 14  # header is line 1; the ragged O10 line is line 14
    assert "O10" in json.loads(malformed[0][1])["csv_line"]


def test_csv_is_read_in_place_and_numbered_in_file_order(messy_db: Path) -> None:
    # raw.orders is a view over the CSV file: ingest makes no copy of the records.
    kinds = query(
        messy_db,
        "select 'view' from duckdb_views() where schema_name = 'raw' and view_name = 'orders' "
        "union all select 'table' from duckdb_tables() where schema_name = 'raw' "
        "and table_name in ('orders', '_orders_rows')",
    )
    assert kinds == [("view",)]
    # Records keep their place in the file after a malformed line: O11 follows the ragged O10
    # line (line 14, not a record), so it is the 13th record.
    rows = query(
        messy_db,
        "select source_row, raw_record from staging.rejected_rows "
        "where entity = 'orders' and reason = 'unparseable_amount'",
    )
    assert [(r[0], json.loads(r[1])["order_id"]) for r in rows] == [(13, "O11")]


def test_duplicates_are_kept_with_reason(messy_db: Path) -> None:
    rows = query(
        messy_db, "select entity, reason, count(*) from staging.duplicate_rows group by all"
    )
    assert {(e, r): n for e, r, n in rows} == {
        ("orders", "duplicate"): 1,
        ("orders", "superseded"): 1,
        ("order_items", "duplicate"): 1,
        ("reviews", "duplicate"): 1,
    }


def test_cleaned_values(messy_db: Path) -> None:
    orders = dict(
        query(messy_db, "select order_id, status from staging.stg_shop__orders order by 1")
    )
    # ' Completed ' normalised, a missing status defaults to completed, RETURNED lower-cased,
    # and the repeated key O7 keeps the latest row (returned).
    assert orders == {
        "O1": "completed",
        "O12": "returned",
        "O2": "completed",
        "O3": "completed",
        "O6": "completed",
        "O7": "returned",
    }
    ts = query(messy_db, "select ordered_at from staging.stg_shop__orders where order_id = 'O12'")
    assert str(ts[0][0]) == "2024-02-08 06:00:00"  # +02:00 converted to UTC
    cats = query(messy_db, "select category from staging.stg_shop__order_items order by 1")
    assert [c[0] for c in cats] == ["books", "home garden", "toys"]


def test_absent_optional_entity_is_empty_with_types(messy_db: Path) -> None:
    rows = query(
        messy_db,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'staging' and table_name = 'stg_shop__email_events' "
        "order by ordinal_position",
    )
    assert rows == [
        ("customer_id", "VARCHAR"),
        ("occurred_at", "TIMESTAMP"),
        ("event_type", "VARCHAR"),
        ("campaign_id", "VARCHAR"),
    ]
    assert query(messy_db, "select count(*) from staging.stg_shop__email_events") == [(0,)]


def test_staging_matches_the_python_contract(messy_db: Path) -> None:
    type_names = {"decimal(18,2)": "DECIMAL(18,2)"}
    for entity in ENTITIES:
        rows = query(
            messy_db,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'staging' and table_name = 'stg_shop__{entity.name}' "
            "order by ordinal_position",
        )
        expected = [(c.name, type_names.get(c.sql_type, c.sql_type)) for c in entity.columns]
        assert rows == expected, entity.name


def test_personal_data_never_leaves_staging(messy_db: Path) -> None:
    leaks = query(
        messy_db,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema not in ('staging', 'raw') "
        f"and column_name in ({', '.join(repr(c) for c in sorted(PII_COLUMNS))})",
    )
    assert leaks == []
    # Rejected and duplicate rows mask personal data in their raw record.
    records = query(
        messy_db,
        "select raw_record from staging.rejected_rows "
        "union all select raw_record from staging.duplicate_rows",
    )
    assert records and all("@" not in r[0] for r in records)
    # The extra first_name column of customers.csv is not ingested at all.
    assert query(
        messy_db,
        "select count(*) from information_schema.columns where column_name = 'first_name'",
    ) == [(0,)]


def test_customers_are_resolved_from_orders(messy_db: Path) -> None:
    rows = dict(
        query(
            messy_db,
            "select customer_id, is_derived_from_orders from intermediate.int_customers_resolved",
        )
    )
    # C6 has an order but no customer row; C3's customer row was rejected.
    assert rows["C6"] is True and rows["C3"] is True and rows["C1"] is False
