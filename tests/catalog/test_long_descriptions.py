"""Descriptions too long to keep whole: a warehouse comment or a dbt description of a
megabyte is stored cut at the limit, with a warning naming the object, and the sync goes on;
a person's is refused with a message. The full-text index only ever reads a bounded prefix,
so no text can make a write fail ("string is too long for tsvector")."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from psycopg import sql

from catalog.models import Column, DbtNode, DbtTest, DescriptionSource, EditRecord, Table
from catalog.selectors.search import catalog_search
from catalog.services import catalog_object_edit, dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.factories import analyst_user, dbt_integration
from tests.support.dbt_fixtures import artifact, one_run

pytestmark = pytest.mark.django_db

MEGABYTE = 1_048_576
LIMIT = 100_000


def long_text(first: str, chars: int = MEGABYTE) -> str:
    """`first`, then distinct words with letters of two and three bytes, cut at `chars`
    characters: about 1.4 MB of distinct lexemes, past a tsvector's 1 MB."""
    words = [first]
    size, i = len(first), 0
    while size < chars:
        word = f"注文ä{i}"
        words.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(words)[:chars]


def sync(integration: Integration) -> SyncRun:
    run = SyncRun.objects.create(integration=integration)
    sync_execute(run=run)
    run.refresh_from_db()
    return run


@pytest.fixture
def comment_on(pg_server, warehouse):
    def comment(kind: str, target: str, text: str) -> None:
        statement = sql.SQL("COMMENT ON {} {} IS {}").format(
            sql.SQL(kind), sql.SQL(target), sql.Literal(text)
        )
        with pg_server.connect(warehouse) as conn:
            conn.execute(statement)

    return comment


@pytest.fixture
def jaffle(warehouse_config) -> Integration:
    return Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )


def test_a_megabyte_warehouse_comment_is_kept_cut_with_a_warning_and_the_syncs_go_on(
    jaffle, comment_on
):
    table_comment = long_text("Orders placed by shoppers, zebrafish included.")
    column_comment = long_text("Amount in cents, quokka counted.")
    comment_on("TABLE", "analytics.orders", table_comment)
    comment_on("COLUMN", "analytics.orders.amount", column_comment)

    run = sync(jaffle)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (
        "The comment on analytics.orders is 1,048,576 characters; "
        "the catalog keeps the first 100,000." in run.warnings
    )
    assert (
        "The comment on analytics.orders.amount is 1,048,576 characters; "
        "the catalog keeps the first 100,000." in run.warnings
    )
    orders = Table.objects.get(name="orders")
    amount = Column.objects.get(table=orders, name="amount")
    assert orders.description == table_comment[:LIMIT]
    assert orders.description_source == DescriptionSource.WAREHOUSE
    assert amount.description == column_comment[:LIMIT]

    for query, kind, found in (("zebrafish", "table", orders), ("quokka", "column", amount)):
        for backend in ("postgres", "fallback"):
            hits = catalog_search(query=query, filters=_kind(kind), backend=backend).hits
            assert [(h.kind, h.id) for h in hits] == [(kind, found.pk)], (query, backend)

    again = sync(jaffle)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.counts["table"]["updated"] == 0 and again.counts["column"]["updated"] == 0


def _kind(kind: str):
    from catalog.selectors.search import SearchFilters

    return SearchFilters(kind=kind)


def four_byte_words(chars: int) -> str:
    """Distinct words of four letters of four bytes each (Deseret capitals, which lower-case
    to four bytes too): near the most distinct bytes a text of `chars` characters can have."""
    letters = [chr(0x10400 + i) for i in range(40)]
    words = (a + b + c + d for a in letters for b in letters for c in letters for d in letters)
    return " ".join(next(words) for _ in range(chars // 5 + 1))[:chars]


def test_the_full_text_index_reads_a_bounded_prefix_of_any_description(jaffle):
    # Stored past the service (as an old row could be): 4 MB of distinct words, whose
    # indexed prefix stays far under a tsvector's 1 MB.
    assert sync(jaffle).status == SyncRun.Status.SUCCEEDED
    orders = Table.objects.get(name="orders")
    Table.objects.filter(pk=orders.pk).update(
        description="Bounded walrus " + four_byte_words(MEGABYTE)
    )
    hits = catalog_search(query="walrus", filters=_kind("table"), backend="postgres").hits
    assert [h.id for h in hits] == [orders.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname LIKE %s ORDER BY indexname",
            ["catalog_%_search_fts"],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 4
    assert all('"left"(description, 100000)' in d for d in definitions), definitions


def dbt_manifest_with_long_descriptions() -> dict:
    manifest = artifact("manifest.json")
    customers = manifest["nodes"]["model.jaffle_shop.customers"]
    customers["description"] = long_text("Customers, pangolin edition.")
    customers["columns"]["first_name"]["description"] = long_text("Given name of an okapi.")
    test = next(
        n
        for uid, n in manifest["nodes"].items()
        if uid.startswith("test.") and n.get("attached_node") == "model.jaffle_shop.customers"
    )
    test["description"] = long_text("A test of axolotls.")
    return manifest


def test_a_megabyte_dbt_description_is_kept_cut_with_a_warning(jaffle):
    assert sync(jaffle).status == SyncRun.Status.SUCCEEDED
    dbt = dbt_integration()
    warnings: list[str] = []
    manifest = dbt_manifest_with_long_descriptions()

    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(manifest=manifest),
        warn=warnings.append,
    )

    customers = manifest["nodes"]["model.jaffle_shop.customers"]
    ending = "characters; the catalog keeps the first 100,000."
    assert f"The dbt description of model.jaffle_shop.customers is 1,048,576 {ending}" in warnings
    assert (
        f"The dbt description of model.jaffle_shop.customers.first_name is 1,048,576 {ending}"
        in warnings
    )
    assert any(w.startswith("The dbt description of test.jaffle_shop.") for w in warnings)
    node = DbtNode.objects.get(unique_id="model.jaffle_shop.customers")
    assert node.description == customers["description"][:LIMIT]
    table = Table.objects.get(name="customers", schema__name="analytics")
    column = Column.objects.get(table=table, name="first_name")
    assert table.description == customers["description"][:LIMIT]
    assert column.description == customers["columns"]["first_name"]["description"][:LIMIT]
    assert all(len(t.description) <= LIMIT for t in DbtTest.objects.all())
    hits = catalog_search(query="pangolin", filters=_kind("dbt_model"), backend="postgres").hits
    assert [h.path for h in hits] == ["model.jaffle_shop.customers"]


def test_a_service_edit_past_the_limit_is_a_validation_error(jaffle):
    assert sync(jaffle).status == SyncRun.Status.SUCCEEDED
    orders = Table.objects.get(name="orders")
    before = orders.description
    with pytest.raises(ValidationError) as raised:
        catalog_object_edit(
            obj=orders, changes={"description": "x" * (LIMIT + 1)}, user=analyst_user()
        )
    assert raised.value.message_dict["description"] == [
        "A description is 100,000 characters at most; this one is 100,001."
    ]
    orders.refresh_from_db()
    assert orders.description == before and not EditRecord.objects.exists()
    # Exactly the limit is fine.
    catalog_object_edit(obj=orders, changes={"description": "y" * LIMIT}, user=None)
    orders.refresh_from_db()
    assert orders.description == "y" * LIMIT


def test_the_limit_is_a_setting(jaffle, settings):
    settings.CATALOG_DESCRIPTION_MAX_LENGTH = 10
    assert sync(jaffle).status == SyncRun.Status.SUCCEEDED
    orders = Table.objects.get(name="orders")
    with pytest.raises(ValidationError, match="10 characters at most; this one is 11"):
        catalog_object_edit(obj=orders, changes={"description": "a" * 11}, user=None)


def test_a_megabyte_description_typed_in_the_edit_form_is_a_form_error(client, jaffle):
    assert sync(jaffle).status == SyncRun.Status.SUCCEEDED
    client.force_login(analyst_user())
    orders = Table.objects.get(name="orders")
    before = orders.description
    typed = long_text("My very long <notes> on orders.")

    response = client.post(
        reverse("catalog:table-edit", args=[orders.pk]),
        {"description": typed, "tags": "finance", "owners": ""},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "A description is 100,000 characters at most; this one is 1,048,576." in body
    textarea = re.search(r'<textarea name="description"[^>]*>\n?(.*?)</textarea>', body, re.S)
    assert html.unescape(textarea.group(1)) == typed
    orders.refresh_from_db()
    assert orders.description == before and orders.tags == []
    assert not EditRecord.objects.exists()


def test_the_setting_defaults_to_a_hundred_thousand_characters():
    assert settings.CATALOG_DESCRIPTION_MAX_LENGTH == LIMIT


@pytest.mark.parametrize("model", [Table, Column])
def test_django_admin_forms_refuse_a_description_past_the_limit(model):
    # Admin's model forms run the model field's validators.
    field = model._meta.get_field("description")
    with pytest.raises(ValidationError, match="100,000 characters at most"):
        field.clean("x" * (LIMIT + 1), model())
    assert field.clean("x" * LIMIT, model()) == "x" * LIMIT
