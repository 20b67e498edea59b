"""The raw-data contract: one place that says which files and columns churnwatch reads.

Ingestion, the docs and the sample shop all read this module, so the contract cannot drift
between them. docs/data-contract.md is the human-readable version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FILE_SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")


@dataclass(frozen=True)
class Column:
    """One contract column.

    Attributes:
        name: Column name in the raw file and in staging.
        sql_type: DuckDB type the staging layer casts it to.
        required: Whether the file must have the column.
        not_null: Whether a row without a value is rejected (required keys).
        pii: Personal data: kept in staging only, masked in rejected_rows.
    """

    name: str
    sql_type: str
    required: bool = False
    not_null: bool = False
    pii: bool = False


@dataclass(frozen=True)
class Entity:
    """One entity of the contract: a file `<name>.parquet|csv|csv.gz` in the data directory."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"entity {self.name!r} has no column {name!r}")


def _c(
    name: str, sql_type: str, *, req: bool = False, key: bool = False, pii: bool = False
) -> Column:
    return Column(name, sql_type, required=req or key, not_null=key, pii=pii)


TS = "TIMESTAMP"
MONEY = "DECIMAL(18,2)"

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "orders",
        required=True,
        key=("order_id",),
        columns=(
            _c("order_id", "VARCHAR", key=True),
            _c("customer_id", "VARCHAR", key=True),
            _c("ordered_at", TS, key=True),
            _c("amount", MONEY, key=True),
            _c("status", "VARCHAR"),
            _c("discount_amount", MONEY),
            _c("coupon_code", "VARCHAR"),
            _c("payment_method", "VARCHAR"),
            _c("promised_delivery_at", TS),
            _c("delivered_at", TS),
        ),
        enums={"status": ("completed", "cancelled", "returned")},
    ),
    Entity(
        "order_items",
        required=False,
        key=("order_id", "product_id"),
        columns=(
            _c("order_id", "VARCHAR", key=True),
            _c("product_id", "VARCHAR", key=True),
            _c("quantity", "INTEGER", key=True),
            _c("unit_price", MONEY, key=True),
            _c("category", "VARCHAR"),
        ),
    ),
    Entity(
        "customers",
        required=False,
        key=("customer_id",),
        columns=(
            _c("customer_id", "VARCHAR", key=True),
            _c("signup_at", TS),
            _c("gender", "VARCHAR"),
            _c("birth_year", "INTEGER"),
            _c("country", "VARCHAR"),
            _c("city", "VARCHAR"),
            _c("acquisition_channel", "VARCHAR"),
            _c("email", "VARCHAR", pii=True),
            _c("phone", "VARCHAR", pii=True),
        ),
    ),
    Entity(
        "events",
        required=False,
        columns=(
            _c("customer_id", "VARCHAR", key=True),
            _c("occurred_at", TS, key=True),
            _c("event_type", "VARCHAR", key=True),
            _c("session_id", "VARCHAR"),
            _c("product_id", "VARCHAR"),
            _c("duration_seconds", "DOUBLE"),
            _c("device", "VARCHAR"),
        ),
        enums={
            "event_type": (
                "page_view",
                "search",
                "product_view",
                "add_to_cart",
                "remove_from_cart",
                "checkout",
                "wishlist",
            )
        },
    ),
    Entity(
        "reviews",
        required=False,
        columns=(
            _c("customer_id", "VARCHAR", key=True),
            _c("rating", "INTEGER", key=True),
            _c("created_at", TS, key=True),
            _c("order_id", "VARCHAR"),
            _c("product_id", "VARCHAR"),
            _c("review_text", "VARCHAR"),
        ),
    ),
    Entity(
        "support_tickets",
        required=False,
        columns=(
            _c("customer_id", "VARCHAR", key=True),
            _c("created_at", TS, key=True),
            _c("category", "VARCHAR"),
            _c("resolved_at", TS),
            _c("satisfaction", "INTEGER"),
        ),
    ),
    Entity(
        "email_events",
        required=False,
        columns=(
            _c("customer_id", "VARCHAR", key=True),
            _c("occurred_at", TS, key=True),
            _c("event_type", "VARCHAR", key=True),
            _c("campaign_id", "VARCHAR"),
        ),
        enums={"event_type": ("sent", "open", "click", "unsubscribe")},
    ),
)

ENTITY_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}

PII_COLUMNS: frozenset[str] = frozenset(c.name for e in ENTITIES for c in e.columns if c.pii)
# Names a shop may add as extra columns; ingestion drops every extra column, these included.
PII_NAME_HINTS: tuple[str, ...] = ("email", "phone", "name", "first_name", "last_name")
