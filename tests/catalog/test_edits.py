"""People's edits (catalog/services/edits.py, through the edit views as a browser posts them):
a field the person did not change keeps its value and its origin and records nothing, even
when the form sends it back in another shape (CRLF line endings, dbt's trailing newline cut,
tags in another order)."""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from catalog.models import Column, DescriptionSource, EditRecord, Table
from catalog.services import catalog_object_edit, dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.factories import analyst_user, dbt_integration
from tests.support.dbt_fixtures import artifact, one_run

pytestmark = pytest.mark.django_db

CUSTOMERS = "model.jaffle_shop.customers"
# As dbt stores `description: |` blocks: lines, and a newline at the end.
BLOCK = "One row per customer.\nDerived from orders and payments.\n"
COLUMN_BLOCK = "Customer's first name.\n\nPII: handle with care.\n"


def manifest(description: str = BLOCK, column_description: str = COLUMN_BLOCK) -> dict:
    found = artifact("manifest.json")
    customers = found["nodes"][CUSTOMERS]
    customers["description"] = description
    customers["tags"] = ["core", "marts"]
    customers["config"]["tags"] = ["core", "marts"]
    customers["meta"] = customers["config"]["meta"] = {"owner": "data-team@example.com"}
    customers["columns"]["first_name"]["description"] = column_description
    return found


@pytest.fixture
def catalog(warehouse_config) -> Integration:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    dbt = dbt_integration()
    dbt_sync(dbt, manifest(), run_id=9001, hour=5)
    return dbt


def dbt_sync(dbt: Integration, found: dict, *, run_id: int, hour: int) -> None:
    dbt.refresh_from_db()
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(run_id, hour=hour, manifest=found),
    )


def customers() -> Table:
    return Table.objects.get(name="customers", schema__name="analytics")


class _FormFields(HTMLParser):
    """The fields of the page's edit form, as a browser would hold them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") in ("text", "hidden", None) and "name" in attrs:
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            # HTML drops one newline right after <textarea>.
            value = self.fields[self._textarea]
            self.fields[self._textarea] = value[1:] if value.startswith("\n") else value
            self._textarea = None


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def browser_post(client, url: str, **typed: str):
    """Open the edit form, change the `typed` fields and submit it as a browser does: every
    field sent back, line breaks as CRLF."""
    page = client.get(url)
    assert page.status_code == 200
    parser = _FormFields()
    parser.feed(page.content.decode())
    fields = {**parser.fields, **typed}
    data = {name: crlf(value) for name, value in fields.items()}
    return client.post(url, data), parser.fields


def test_editing_only_the_tags_keeps_dbts_description_and_its_next_change(client, catalog):
    client.force_login(analyst_user())
    table = customers()
    assert (table.description, table.description_source) == (BLOCK, DescriptionSource.DBT)
    assert (table.owners_source, table.tags) == (DescriptionSource.DBT, ["core", "marts"])

    response, shown = browser_post(
        client, reverse("catalog:table-edit", args=[table.pk]), tags="core, marts, pii"
    )

    assert response.status_code == 302
    assert shown["description"] == BLOCK  # the textarea held dbt's text, newline and all
    table.refresh_from_db()
    assert (table.description, table.description_source) == (BLOCK, DescriptionSource.DBT)
    assert (table.owners, table.owners_source) == (["data-team@example.com"], "dbt")
    assert (table.tags, table.tags_source) == (["core", "marts", "pii"], DescriptionSource.USER)
    edits = EditRecord.objects.filter(table=table)
    assert [(e.field, e.old_value, e.new_value) for e in edits] == [
        ("tags", ["core", "marts"], ["core", "marts", "pii"])
    ]

    dbt_sync(catalog, manifest("One row per customer, now with refunds.\n"), run_id=9002, hour=6)
    table.refresh_from_db()
    assert table.description == "One row per customer, now with refunds.\n"
    assert table.description_source == DescriptionSource.DBT
    assert table.tags == ["core", "marts", "pii"]  # the person's tags stay


def test_a_column_form_sent_back_unchanged_changes_nothing(client, catalog):
    client.force_login(analyst_user())
    column = Column.objects.get(table=customers(), name="first_name")
    assert (column.description, column.description_source) == (COLUMN_BLOCK, "dbt")

    response, _ = browser_post(client, reverse("catalog:column-edit", args=[column.pk]))

    assert response.status_code == 302
    column.refresh_from_db()
    assert (column.description, column.description_source) == (COLUMN_BLOCK, "dbt")
    assert not EditRecord.objects.exists()
    dbt_sync(catalog, manifest(column_description="Given name."), run_id=9002, hour=6)
    column.refresh_from_db()
    assert (column.description, column.description_source) == ("Given name.", "dbt")


def test_a_real_change_to_the_description_is_the_persons(client, catalog):
    client.force_login(analyst_user())
    table = customers()

    response, _ = browser_post(
        client,
        reverse("catalog:table-edit", args=[table.pk]),
        description="One row per customer.\nWritten by hand.\n",
    )

    assert response.status_code == 302
    table.refresh_from_db()
    assert table.description == "One row per customer.\nWritten by hand."  # LF, stripped
    assert table.description_source == DescriptionSource.USER
    assert table.tags_source == table.owners_source == DescriptionSource.DBT
    assert [e.field for e in EditRecord.objects.all()] == ["description"]
    dbt_sync(catalog, manifest("dbt's new text"), run_id=9002, hour=6)
    table.refresh_from_db()
    assert table.description == "One row per customer.\nWritten by hand."


@pytest.mark.parametrize(
    "changes",
    [
        {"description": BLOCK.replace("\n", "\r\n")},
        {"description": "  " + BLOCK.rstrip("\n") + "\n\n  "},
        {"description": unicodedata.normalize("NFD", BLOCK)},
        {"tags": ["marts", "core"]},
        {"tags": " marts ,core, core"},
    ],
)
def test_the_service_sees_the_same_text_or_list_as_unchanged(catalog, changes):
    table = customers()
    before = Table.objects.filter(pk=table.pk).values().get()

    assert catalog_object_edit(obj=table, changes=changes, user=analyst_user()) == []

    assert Table.objects.filter(pk=table.pk).values().get() == before
    assert not EditRecord.objects.exists()


def test_owners_in_another_order_are_the_same_owners(catalog):
    Table.objects.filter(pk=customers().pk).update(owners=["sales", "finance"])
    table = customers()

    assert catalog_object_edit(obj=table, changes={"owners": "finance, sales"}, user=None) == []

    table.refresh_from_db()
    assert (table.owners, table.owners_source) == (["sales", "finance"], "dbt")


def test_a_long_warehouse_label_left_alone_does_not_block_an_edit(catalog):
    label = "x" * 150  # longer than a typed tag may be
    Table.objects.filter(pk=customers().pk).update(tags=[label], tags_source="warehouse")
    table = customers()

    records = catalog_object_edit(
        obj=table, changes={"description": "Mine.", "tags": [label]}, user=None
    )

    assert [r.field for r in records] == ["description"]
    table.refresh_from_db()
    assert (table.tags, table.tags_source) == ([label], "warehouse")
