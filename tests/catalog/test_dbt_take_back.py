"""Taking dbt's enrichment back: values whose source is dbt return to the warehouse's own
comment and tags (or to empty), dbt's owners to none; what a person wrote stays. The
warehouse is synced by the real `catalog_apply`; dbt's writes are made as `_enrich` makes
them (value and source "dbt"), and its matches as DbtNode rows pointing at the tables."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Column, DbtNode, DescriptionSource, Table
from catalog.services import catalog_apply
from catalog.services.dbt_take_back import take_back, take_back_integration
from integrations.connectors.base import ColumnRecord, DatabaseRecord, SchemaRecord, TableRecord
from integrations.models import Integration, SyncRun
from integrations.services.integrations import integration_delete
from tests.factories import admin_user, dbt_integration

pytestmark = pytest.mark.django_db

DB = "shop"
DBT = DescriptionSource.DBT
USER = DescriptionSource.USER
WAREHOUSE = DescriptionSource.WAREHOUSE
NONE = DescriptionSource.NONE


def shop(*, orders_comment: str = "One row per order", extra_tables: int = 0) -> list:
    """orders (commented, labelled, with a commented column), customers (bare), payments,
    and `extra_tables` more bare tables of two columns each."""
    records = [
        DatabaseRecord(DB),
        SchemaRecord(DB, "public"),
        TableRecord(
            DB, "public", "orders", "table", description=orders_comment, tags=("tier:gold",)
        ),
        ColumnRecord(DB, "public", "orders", "id", "integer", 1),
        ColumnRecord(DB, "public", "orders", "amount", "numeric", 2, description="In euros"),
        TableRecord(DB, "public", "customers", "table"),
        ColumnRecord(DB, "public", "customers", "id", "integer", 1),
        ColumnRecord(DB, "public", "customers", "email", "text", 2),
        TableRecord(DB, "public", "payments", "table", description="Card payments"),
        ColumnRecord(DB, "public", "payments", "id", "integer", 1),
    ]
    for i in range(extra_tables):
        name = f"extra_{i}"
        records += [
            TableRecord(DB, "public", name, "table", description=f"Comment {i}"),
            ColumnRecord(DB, "public", name, "id", "integer", 1, description="Key"),
            ColumnRecord(DB, "public", name, "v", "text", 2),
        ]
    return records


@pytest.fixture
def warehouse() -> Integration:
    return Integration.objects.create(connector="postgres", name="warehouse", config={"host": "h"})


def sync(warehouse: Integration, records: list) -> None:
    run = SyncRun.objects.create(integration=warehouse, status=SyncRun.Status.SUCCEEDED)
    catalog_apply(integration=warehouse, run=run, records=records)


def table(name: str) -> Table:
    return Table.objects.get(name=name)


def column(table_name: str, name: str) -> Column:
    return Column.objects.get(table__name=table_name, name=name)


def dbt_wrote(obj, *, description: str = "", tags=(), owners=()) -> None:
    """What dbt's enrichment leaves on a row (with the "dbt wins" policy where the warehouse
    had written first): each value it brings, with source dbt."""
    values = {}
    if description:
        values.update(description=description, description_source=DBT)
    if tags:
        values.update(tags=sorted(tags), tags_source=DBT)
    if owners:
        values.update(owners=sorted(owners), owners_source=DBT)
    type(obj).objects.filter(pk=obj.pk).update(**values)


def shown(obj) -> dict:
    row = (
        type(obj)
        .objects.filter(pk=obj.pk)
        .values(
            "description", "description_source", "tags", "tags_source", "owners", "owners_source"
        )
    )
    return row.get()


def matched(integration: Integration, *tables: Table, removed: bool = False) -> None:
    for t in tables:
        DbtNode.objects.create(
            integration=integration,
            unique_id=f"model.shop.{t.name}",
            resource_type="model",
            name=t.name,
            table=t,
            match_status=DbtNode.Match.MATCHED,
            removed=removed,
        )


# -- take_back ----------------------------------------------------------------------------


def test_a_warehouse_comment_dbt_overwrote_comes_back(warehouse):
    sync(warehouse, shop())
    dbt_wrote(table("orders"), description="Orders, from the orders model")

    counts = take_back(table_ids=[table("orders").pk])

    assert shown(table("orders"))["description"] == "One row per order"
    assert shown(table("orders"))["description_source"] == WAREHOUSE
    assert counts == {"tables": 1, "columns": 0}


def test_a_table_without_a_warehouse_comment_goes_empty(warehouse):
    sync(warehouse, shop())
    dbt_wrote(table("customers"), description="One row per customer")

    take_back(table_ids=[table("customers").pk])

    assert (
        shown(table("customers"))["description"],
        shown(table("customers"))["description_source"],
    ) == (
        "",
        NONE,
    )


def test_a_description_a_person_edited_stays_while_dbts_tags_go(warehouse):
    sync(warehouse, shop())
    orders = table("orders")
    dbt_wrote(orders, tags=["finance"])
    Table.objects.filter(pk=orders.pk).update(description="What we mean", description_source=USER)

    counts = take_back(table_ids=[orders.pk])

    after = shown(orders)
    assert (after["description"], after["description_source"]) == ("What we mean", USER)
    assert (after["tags"], after["tags_source"]) == (["tier:gold"], WAREHOUSE)
    assert counts["tables"] == 1


def test_a_person_s_tags_and_owners_stay(warehouse):
    sync(warehouse, shop())
    orders = table("orders")
    Table.objects.filter(pk=orders.pk).update(
        tags=["mine"], tags_source=USER, owners=["bob"], owners_source=USER
    )
    before = shown(orders)

    counts = take_back(table_ids=[orders.pk])

    assert shown(orders) == before
    assert counts == {"tables": 0, "columns": 0}  # nothing from dbt: nothing written


def test_tags_return_to_the_warehouse_labels_or_none_and_dbts_owners_go(warehouse):
    sync(warehouse, shop())
    dbt_wrote(table("orders"), tags=["finance", "core"], owners=["ana@shop.io"])
    dbt_wrote(table("customers"), tags=["pii"], owners=["ana@shop.io", "bob@shop.io"])

    take_back(table_ids=[table("orders").pk, table("customers").pk])

    orders, customers = shown(table("orders")), shown(table("customers"))
    assert (orders["tags"], orders["tags_source"]) == (["tier:gold"], WAREHOUSE)
    assert (customers["tags"], customers["tags_source"]) == ([], NONE)
    assert (orders["owners"], orders["owners_source"]) == ([], NONE)
    assert (customers["owners"], customers["owners_source"]) == ([], NONE)
    assert table("orders").warehouse_owner == ""  # the warehouse's role is not an owner


def test_columns_of_the_tables_and_the_extra_columns_are_taken_back(warehouse):
    sync(warehouse, shop())
    dbt_wrote(column("orders", "amount"), description="Gross amount", tags=["money"])
    dbt_wrote(column("orders", "id"), description="Order key")
    dbt_wrote(column("customers", "email"), description="Login e-mail", tags=["pii"])
    dbt_wrote(column("customers", "id"), description="Customer key")
    Column.objects.filter(pk=column("orders", "id").pk).update(
        description="Our key", description_source=USER
    )

    counts = take_back(table_ids=[table("orders").pk], column_ids=[column("customers", "email").pk])

    amount, order_id = shown(column("orders", "amount")), shown(column("orders", "id"))
    email, customer_id = shown(column("customers", "email")), shown(column("customers", "id"))
    assert (amount["description"], amount["description_source"]) == ("In euros", WAREHOUSE)
    assert (amount["tags"], amount["tags_source"]) == ([], NONE)
    assert (order_id["description"], order_id["description_source"]) == ("Our key", USER)
    assert (email["description"], email["tags"], email["tags_source"]) == ("", [], NONE)
    # A column of a table not given, and not named itself, keeps dbt's values.
    assert (customer_id["description"], customer_id["description_source"]) == (
        "Customer key",
        DBT,
    )
    assert counts == {"tables": 0, "columns": 2}


def test_kept_tables_and_their_columns_keep_dbts_values(warehouse):
    sync(warehouse, shop())
    dbt_wrote(table("orders"), description="From dbt")
    dbt_wrote(column("orders", "amount"), description="Gross amount")
    dbt_wrote(table("customers"), description="Customers, from dbt")

    take_back(
        table_ids=[table("orders").pk, table("customers").pk],
        column_ids=[column("orders", "amount").pk],
        keep_tables={table("orders").pk},
    )

    assert shown(table("orders"))["description"] == "From dbt"
    assert shown(column("orders", "amount"))["description"] == "Gross amount"
    assert shown(table("customers"))["description_source"] == NONE


def test_nothing_given_runs_no_statement(warehouse):
    with CaptureQueriesContext(connection) as queries:
        assert take_back(table_ids=[]) == {"tables": 0, "columns": 0}
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def _enrich_everything() -> tuple[list[int], list[int]]:
    for t in Table.objects.all():
        dbt_wrote(t, description=f"dbt: {t.name}", tags=["dbt"], owners=["ana"])
    for c in Column.objects.all():
        dbt_wrote(c, description=f"dbt: {c.name}", tags=["dbt"])
    return list(Table.objects.values_list("pk", flat=True)), []


@pytest.mark.parametrize("extra_tables", [0, 60])
def test_statements_are_two_updates_whatever_the_number_of_rows(warehouse, extra_tables):
    sync(warehouse, shop(extra_tables=extra_tables))
    table_ids, _ = _enrich_everything()
    some_column = Column.objects.values_list("pk", flat=True).first()

    with CaptureQueriesContext(connection) as queries:
        counts = take_back(
            table_ids=table_ids[1:], column_ids=[some_column], keep_tables={table_ids[-1]}
        )

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]
    assert counts["tables"] == 3 + extra_tables - 2
    assert not Table.objects.filter(pk__in=table_ids[1:-1], description_source=DBT).exists()
    if extra_tables:
        assert table(f"extra_{extra_tables - 1}").description == "Comment 59"


# -- the warehouse sync keeps its own values -------------------------------------------------


def test_the_warehouse_sync_keeps_its_comment_current_while_dbts_shows(warehouse):
    sync(warehouse, shop(orders_comment="First comment"))
    dbt_wrote(table("orders"), description="dbt's description", tags=["finance"])

    sync(warehouse, shop(orders_comment="The comment, changed in the warehouse"))

    orders = table("orders")
    assert (orders.description, orders.description_source) == ("dbt's description", DBT)
    assert orders.warehouse_description == "The comment, changed in the warehouse"
    assert (orders.tags, orders.warehouse_tags) == (["finance"], ["tier:gold"])

    take_back(table_ids=[orders.pk])

    assert shown(orders)["description"] == "The comment, changed in the warehouse"


def test_the_migration_copies_the_shown_values_where_the_warehouse_wrote_them(warehouse):
    sync(warehouse, shop())
    Table.objects.update(warehouse_description="", warehouse_tags=[])
    dbt_wrote(table("customers"), description="From dbt", tags=["pii"])
    migration = importlib.import_module("catalog.migrations.0009_warehouse_values")

    migration.copy_warehouse_values(apps, None)

    orders, customers = table("orders"), table("customers")
    assert (orders.warehouse_description, orders.warehouse_tags) == (
        "One row per order",
        ["tier:gold"],
    )
    assert (customers.warehouse_description, customers.warehouse_tags) == ("", [])


# -- a dbt integration disconnected ---------------------------------------------------------


@pytest.fixture
def two_dbt_integrations(warehouse):
    """dbt "A" matched orders and customers (and a node gone from its project still points
    at payments); dbt "B" also matches customers. Every table and column shows dbt's values."""
    sync(warehouse, shop())
    a, b = dbt_integration("A"), dbt_integration("B")
    matched(a, table("orders"), table("customers"))
    matched(a, table("payments"), removed=True)
    matched(b, table("customers"))
    _enrich_everything()
    return a, b


def test_disconnecting_a_dbt_integration_takes_back_its_enrichment_not_another_ones(
    client, two_dbt_integrations
):
    a, _b = two_dbt_integrations
    client.force_login(admin_user())

    response = client.post(f"/integrations/{a.pk}/disconnect/")

    assert response.status_code == 302
    assert not Integration.objects.filter(pk=a.pk).exists()
    orders, amount = shown(table("orders")), shown(column("orders", "amount"))
    assert (orders["description"], orders["description_source"]) == (
        "One row per order",
        WAREHOUSE,
    )
    assert (orders["tags"], orders["owners"]) == (["tier:gold"], [])
    assert (amount["description"], amount["tags"]) == ("In euros", [])
    assert shown(table("payments"))["description"] == "Card payments"
    assert shown(column("payments", "id"))["description_source"] == NONE
    # B still matches customers: its values stay until B's next sync rewrites them.
    assert shown(table("customers"))["description"] == "dbt: customers"
    assert shown(column("customers", "email"))["description"] == "dbt: email"
    assert DbtNode.objects.filter(integration__name="B").count() == 1


def test_django_admin_deleting_a_dbt_integration_takes_back_its_enrichment(
    admin_client, two_dbt_integrations
):
    a, _b = two_dbt_integrations
    url = reverse("admin:integrations_integration_delete", args=[a.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Integration.objects.filter(pk=a.pk).exists()
    assert shown(table("orders"))["description"] == "One row per order"
    assert shown(table("customers"))["description"] == "dbt: customers"


def test_the_take_back_is_undone_when_the_disconnect_fails(two_dbt_integrations, monkeypatch):
    a, _b = two_dbt_integrations

    def refuse(self, *args, **kwargs):
        raise RuntimeError("the delete failed")

    # Fails after the take back, as the rows would cascade away.
    monkeypatch.setattr(Integration, "delete", refuse)

    with pytest.raises(RuntimeError):
        integration_delete(integration=a)

    assert shown(table("orders"))["description"] == "dbt: orders"
    assert shown(column("orders", "amount"))["description"] == "dbt: amount"


def test_the_last_warehouse_goes_with_its_dbt_integration(two_dbt_integrations, warehouse):
    removed = integration_delete(integration=warehouse, disconnect_dependents=True)

    assert set(removed) == {"warehouse", "A", "B"}
    assert not Table.objects.exists() and not DbtNode.objects.exists()


def test_taking_back_an_integration_is_two_updates_and_counts_what_changed(
    two_dbt_integrations,
):
    a, _b = two_dbt_integrations

    with CaptureQueriesContext(connection) as queries:
        counts = take_back_integration(integration=a)

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]
    # orders and payments, with their three columns; customers is B's too.
    assert counts == {"tables": 2, "columns": 3}


def test_django_admin_shows_the_warehouse_s_own_comment_without_letting_it_be_edited(
    admin_client, warehouse
):
    sync(warehouse, shop())
    dbt_wrote(table("orders"), description="From dbt")
    url = reverse("admin:catalog_table_change", args=[table("orders").pk])

    page = admin_client.get(url).content.decode()

    assert "One row per order" in page
    assert 'name="warehouse_description"' not in page and 'name="warehouse_tags"' not in page
