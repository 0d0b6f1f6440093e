"""catalog_export_data and the catalog_export command, on catalogs built by catalog_apply."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Column, Database, DescriptionSource, Schema, Table
from catalog.selectors import catalog_export_data
from catalog.services import catalog_apply
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
)
from integrations.models import Integration, SyncRun

pytestmark = pytest.mark.django_db

COMMON_KEYS = {
    "id",
    "name",
    "description",
    "description_source",
    "tags",
    "tags_source",
    "owners",
    "owners_source",
    "warehouse_owner",
    "removed",
    "first_seen_run",
    "last_changed_run",
}
LAST_ALTERED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def shop_records(extra_tables: int = 0) -> list:
    """Records given out of order on purpose: the export sorts them."""
    records = [
        DatabaseRecord(name="shop", owner="admin"),
        SchemaRecord(database="shop", name="public", description="Main"),
        TableRecord(
            database="shop",
            schema="public",
            name="orders",
            kind="table",
            row_estimate=42,
            last_altered=LAST_ALTERED,
            owner="etl",
            description="One row per order",
        ),
        ColumnRecord(
            database="shop",
            schema="public",
            table="orders",
            name="customer_id",
            data_type="integer",
            ordinal=2,
            foreign_key=ColumnRef("shop", "public", "customers", "id"),
        ),
        ColumnRecord(
            database="shop",
            schema="public",
            table="orders",
            name="id",
            data_type="integer",
            ordinal=1,
            nullable=False,
            is_primary_key=True,
        ),
        TableRecord(
            database="shop",
            schema="public",
            name="customers",
            kind="view",
            definition="SELECT 1 AS id",
        ),
        ColumnRecord(
            database="shop",
            schema="public",
            table="customers",
            name="id",
            data_type="integer",
            ordinal=1,
            default="0",
        ),
        TableRecord(database="shop", schema="archive", name="old_orders", kind="table"),
        ColumnRecord(
            database="shop",
            schema="archive",
            table="old_orders",
            name="id",
            data_type="integer",
            ordinal=1,
        ),
    ]
    for i in range(extra_tables):
        records.append(
            TableRecord(database="shop", schema="public", name=f"extra_{i:02d}", kind="table")
        )
        records += [
            ColumnRecord(
                database="shop",
                schema="public",
                table=f"extra_{i:02d}",
                name=f"c{c}",
                data_type="text",
                ordinal=c + 1,
                foreign_key=ColumnRef("shop", "public", "orders", "id") if c == 0 else None,
            )
            for c in range(5)
        ]
    return records


def apply(integration: Integration, records: list) -> SyncRun:
    run = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    catalog_apply(integration=integration, run=run, records=records)
    return run


@pytest.fixture
def warehouse() -> Integration:
    integration = Integration.objects.create(
        connector="postgres",
        name="warehouse",
        config={"host": "h"},
        status=Integration.Status.HEALTHY,
        last_synced_at=datetime(2025, 6, 7, 8, 9, 10, tzinfo=UTC),
    )
    apply(integration, shop_records())
    # The archive schema vanishes from the warehouse: kept, flagged removed.
    apply(integration, [r for r in shop_records() if getattr(r, "schema", None) != "archive"])
    return integration


@pytest.fixture
def crm() -> Integration:
    integration = Integration.objects.create(connector="postgres", name="crm", config={})
    apply(
        integration,
        [
            TableRecord(database="crm", schema="public", name="contacts", kind="table"),
            ColumnRecord(
                database="crm",
                schema="public",
                table="contacts",
                name="email",
                data_type="text",
                ordinal=1,
            ),
        ],
    )
    return integration


def outline(node: dict) -> tuple:
    """Names, removed flags and order of a nested export, without the metadata."""
    for child_key in ("databases", "schemas", "tables", "columns"):
        if child_key in node:
            return (node["name"], node.get("removed"), [outline(c) for c in node[child_key]])
    return (node["name"], node["removed"])


def without_generated_at(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_export_nests_integrations_databases_schemas_tables_and_columns(warehouse, crm):
    data = catalog_export_data()

    assert data["version"] == 1
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert [outline(i) for i in data["integrations"]] == [
        (
            "crm",
            None,
            [("crm", False, [("public", False, [("contacts", False, [("email", False)])])])],
        ),
        (
            "warehouse",
            None,
            [
                (
                    "shop",
                    False,
                    [
                        ("archive", True, [("old_orders", True, [("id", True)])]),
                        (
                            "public",
                            False,
                            [
                                ("customers", False, [("id", False)]),
                                ("orders", False, [("id", False), ("customer_id", False)]),
                            ],
                        ),
                    ],
                ),
            ],
        ),
    ]


def test_export_carries_every_documented_field(warehouse):
    first, second = SyncRun.objects.filter(integration=warehouse).order_by("pk")

    (integration,) = catalog_export_data()["integrations"]

    assert integration == {
        "id": warehouse.pk,
        "name": "warehouse",
        "connector": "postgres",
        "status": "healthy",
        "last_synced_at": "2025-06-07T08:09:10+00:00",
        "databases": integration["databases"],
        "dbt": None,  # only dbt Cloud integrations carry this block
    }
    (database,) = integration["databases"]
    assert set(database) == COMMON_KEYS | {"schemas"}
    assert database["warehouse_owner"] == "admin"
    archive, public = database["schemas"]
    assert set(public) == COMMON_KEYS | {"tables"}
    assert (public["description"], public["description_source"]) == ("Main", "warehouse")
    assert archive["last_changed_run"] == second.pk and archive["first_seen_run"] == first.pk
    customers, orders = public["tables"]
    orders_row = Table.objects.get(name="orders")
    assert {k: v for k, v in orders.items() if k != "columns"} == {
        "id": orders_row.pk,
        "name": "orders",
        "description": "One row per order",
        "description_source": "warehouse",
        "tags": [],
        "tags_source": "",
        "owners": [],
        "owners_source": "",
        "warehouse_owner": "etl",
        "removed": False,
        "first_seen_run": first.pk,
        "last_changed_run": first.pk,
        "path": "shop.public.orders",
        "kind": "table",
        "row_estimate": 42,
        "last_altered": "2025-01-02T03:04:05+00:00",
        "definition": "",
        "properties": {},
        "dbt": None,  # no dbt node was matched to it
    }
    assert (customers["kind"], customers["definition"], customers["row_estimate"]) == (
        "view",
        "SELECT 1 AS id",
        None,
    )
    assert customers["last_altered"] is None
    order_id, customer_id = orders["columns"]
    assert customer_id == {
        "id": Column.objects.get(name="customer_id").pk,
        "name": "customer_id",
        "description": "",
        "description_source": "",
        "tags": [],
        "tags_source": "",
        "owners": [],
        "owners_source": "",
        "warehouse_owner": "",
        "removed": False,
        "first_seen_run": first.pk,
        "last_changed_run": first.pk,
        "data_type": "integer",
        "ordinal": 2,
        "nullable": True,
        "default": "",
        "primary_key": False,
        "foreign_key": "shop.public.customers.id",
    }
    assert (order_id["primary_key"], order_id["nullable"], order_id["foreign_key"]) == (
        True,
        False,
        None,
    )
    assert customers["columns"][0]["default"] == "0"


def test_export_shows_what_users_wrote(warehouse):
    Table.objects.filter(name="old_orders").update(
        description="Kept for audits",
        description_source=DescriptionSource.USER,
        tags=["pii"],
        owners=["ana@example.com"],
    )

    (integration,) = catalog_export_data()["integrations"]

    old_orders = integration["databases"][0]["schemas"][0]["tables"][0]
    assert (old_orders["name"], old_orders["removed"]) == ("old_orders", True)
    assert old_orders["description"] == "Kept for audits"
    assert old_orders["description_source"] == "user"
    assert (old_orders["tags"], old_orders["owners"]) == (["pii"], ["ana@example.com"])


def test_export_of_one_integration_leaves_the_others_out(warehouse, crm):
    data = catalog_export_data(integration=crm)

    assert [i["name"] for i in data["integrations"]] == ["crm"]
    assert without_generated_at(data)["integrations"] == [
        i for i in catalog_export_data()["integrations"] if i["name"] == "crm"
    ]


def test_export_of_an_empty_catalog_lists_integrations_without_databases(db):
    Integration.objects.create(connector="postgres", name="fresh", config={})

    data = catalog_export_data()

    assert data["integrations"] == [
        {
            "id": Integration.objects.get().pk,
            "name": "fresh",
            "connector": "postgres",
            "status": "new",
            "last_synced_at": None,
            "databases": [],
            "dbt": None,
        }
    ]


# 5 for the warehouse objects, 13 for what dbt added to them.
EXPORT_QUERIES = 18


@pytest.mark.parametrize("extra_tables", [0, 30])
def test_export_takes_a_fixed_number_of_queries_whatever_the_size(
    warehouse, crm, django_assert_num_queries, extra_tables
):
    apply(warehouse, shop_records(extra_tables=extra_tables))
    assert Column.objects.count() == 5 + 5 * extra_tables

    with django_assert_num_queries(EXPORT_QUERIES):
        data = catalog_export_data()
    with django_assert_num_queries(EXPORT_QUERIES + 1):  # + every table's path
        catalog_export_data(integration=warehouse)

    tables = data["integrations"][1]["databases"][0]["schemas"][1]["tables"]
    assert len(tables) == 2 + extra_tables
    assert all(
        t["columns"][0]["foreign_key"] == "shop.public.orders.id"
        for t in tables
        if t["name"].startswith("extra_")
    )


def test_export_command_prints_the_same_catalog_as_json(warehouse, crm):
    out = StringIO()

    call_command("catalog_export", stdout=out)

    printed = json.loads(out.getvalue())
    assert without_generated_at(printed) == without_generated_at(
        json.loads(json.dumps(catalog_export_data()))
    )
    assert len(printed["integrations"]) == 2


@pytest.mark.parametrize("ref", ["crm", "by id"])
def test_export_command_filters_to_one_integration_by_name_or_id(warehouse, crm, ref):
    out = StringIO()

    call_command("catalog_export", integration=str(crm.pk) if ref == "by id" else "crm", stdout=out)

    printed = json.loads(out.getvalue())
    assert without_generated_at(printed) == without_generated_at(
        json.loads(json.dumps(catalog_export_data(integration=crm)))
    )


def test_export_command_with_indent_zero_prints_one_line(warehouse):
    out = StringIO()

    call_command("catalog_export", "--indent", "0", stdout=out)

    assert "\n" not in out.getvalue().strip()
    assert json.loads(out.getvalue())["integrations"][0]["name"] == "warehouse"


def test_export_command_refuses_an_unknown_integration(warehouse):
    out = StringIO()

    with pytest.raises(CommandError, match="No integration named or numbered 'nope'"):
        call_command("catalog_export", integration="nope", stdout=out)

    assert out.getvalue() == ""


def test_removed_objects_stay_in_the_export_with_their_ids(warehouse):
    old = Table.objects.get(name="old_orders")
    assert old.removed and Schema.objects.get(name="archive").removed

    (integration,) = catalog_export_data()["integrations"]

    archive = integration["databases"][0]["schemas"][0]
    assert archive["id"] == Schema.objects.get(name="archive").pk
    assert archive["tables"][0]["id"] == old.pk
    assert archive["tables"][0]["path"] == "shop.archive.old_orders"
    assert Database.objects.count() == 1
