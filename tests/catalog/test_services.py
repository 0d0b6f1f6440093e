"""catalog_apply fed with hand-built records: what it creates, updates and flags removed,
whose descriptions it may touch, and that it writes in bulk, all or nothing."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import Column, Database, DescriptionSource, Schema, Table
from catalog.services import catalog_apply
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
)
from integrations.models import Integration, SyncRun
from tests.support.waiting import wait_until

DB = "shop"
LAST_ALTERED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))


def schema(name: str, **kw) -> SchemaRecord:
    return SchemaRecord(database=DB, name=name, **kw)


def table(name: str, schema: str = "public", kind: str = "table", **kw) -> TableRecord:
    return TableRecord(database=DB, schema=schema, name=name, kind=kind, **kw)


def column(
    table: str,
    name: str,
    ordinal: int = 1,
    schema: str = "public",
    data_type: str = "integer",
    **kw,
) -> ColumnRecord:
    return ColumnRecord(
        database=DB,
        schema=schema,
        table=table,
        name=name,
        data_type=data_type,
        ordinal=ordinal,
        **kw,
    )


def ref(table: str, column: str, schema: str = "public") -> ColumnRef:
    return ColumnRef(DB, schema, table, column)


def shop() -> list:
    """A small warehouse: two schemas, four tables, a foreign key."""
    return [
        DatabaseRecord(name=DB, owner="admin"),
        schema("public", owner="admin"),
        schema("archive"),
        table("customers", owner="etl", row_estimate=3, last_altered=LAST_ALTERED),
        column("customers", "id", 1, nullable=False, is_primary_key=True),
        column("customers", "email", 2, data_type="text", default="''::text"),
        table("orders", row_estimate=10, description="One row per order"),
        column("orders", "id", 1, nullable=False, is_primary_key=True),
        column("orders", "customer_id", 2, foreign_key=ref("customers", "id")),
        column("orders", "amount", 3, data_type="numeric(10,2)", description="In euros"),
        table("legacy"),
        column("legacy", "id", 1),
        table("orders_2019", schema="archive"),
        column("orders_2019", "id", 1, schema="archive"),
    ]


def changed(records: list, match, **changes) -> list:
    """The records with those matching `match(record)` replaced by a copy with `changes`."""
    return [replace(r, **changes) if match(r) else r for r in records]


def without(records: list, *, table: str = "", schema: str = "") -> list:
    """The records minus one table (and its columns) or one schema (and all in it)."""

    def keep(r) -> bool:
        if isinstance(r, SchemaRecord):
            return r.name != schema
        if isinstance(r, TableRecord):
            return r.schema != schema and r.name != table
        if isinstance(r, ColumnRecord):
            return r.schema != schema and r.table != table
        return True

    return [r for r in records if keep(r)]


def is_table(name: str):
    return lambda r: isinstance(r, TableRecord) and r.name == name


def is_column(table: str, name: str):
    return lambda r: isinstance(r, ColumnRecord) and (r.table, r.name) == (table, name)


def is_schema(name: str):
    return lambda r: isinstance(r, SchemaRecord) and r.name == name


@pytest.fixture
def integration(db) -> Integration:
    return Integration.objects.create(connector="postgres", name="warehouse", config={"host": "h"})


@pytest.fixture
def apply(integration):
    """Applies records in a new sync run; returns the counts, with the run as `.run`."""

    class Applied(dict):
        run: SyncRun

    def run_apply(
        records: list, *, into: Integration | None = None, warn=None, keep=frozenset()
    ) -> Applied:
        target = into or integration
        run = SyncRun.objects.create(integration=target, status=SyncRun.Status.SUCCEEDED)
        result = Applied(
            catalog_apply(
                integration=target, run=run, records=records, warn=warn, keep_schemas=keep
            )
        )
        result.run = run
        return result

    return run_apply


def catalog_state() -> dict:
    """Every row of the catalog, every field."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Database, Schema, Table, Column)
    }


def get_table(name: str) -> Table:
    return Table.objects.get(name=name)


def get_column(table: str, name: str) -> Column:
    return Column.objects.get(table__name=table, name=name)


def test_first_apply_creates_every_object_with_the_warehouse_values(apply, integration):
    counts = apply(shop())

    assert counts == {
        "database": {"created": 1, "updated": 0, "removed": 0},
        "schema": {"created": 2, "updated": 0, "removed": 0},
        "table": {"created": 4, "updated": 0, "removed": 0},
        "column": {"created": 7, "updated": 0, "removed": 0},
    }
    database = Database.objects.get()
    assert (database.name, database.warehouse_owner, database.integration) == (
        DB,
        "admin",
        integration,
    )
    assert {(s.database_id, s.name) for s in Schema.objects.all()} == {
        (database.pk, "public"),
        (database.pk, "archive"),
    }
    customers = get_table("customers")
    assert (customers.kind, customers.row_estimate, customers.warehouse_owner) == (
        "table",
        3,
        "etl",
    )
    assert customers.last_altered == LAST_ALTERED
    assert customers.schema.name == "public"
    email = get_column("customers", "email")
    assert (
        email.data_type,
        email.ordinal,
        email.nullable,
        email.default,
        email.is_primary_key,
    ) == (
        "text",
        2,
        True,
        "''::text",
        False,
    )
    assert (
        get_column("customers", "id").is_primary_key and not get_column("customers", "id").nullable
    )
    assert get_column("orders", "customer_id").foreign_key == get_column("customers", "id")
    assert get_table("orders").description == "One row per order"
    assert get_table("orders").description_source == DescriptionSource.WAREHOUSE
    assert get_table("legacy").description_source == DescriptionSource.NONE
    for model in (Database, Schema, Table, Column):
        assert set(model.objects.values_list("first_seen_run", "last_changed_run", "removed")) == {
            (counts.run.pk, counts.run.pk, False)
        }


def test_counts_created_updated_and_removed_at_each_level(apply):
    first = apply(shop())
    records = without(without(shop(), schema="archive"), table="legacy")
    records = changed(records, is_table("orders"), row_estimate=12)
    records = changed(records, is_column("customers", "email"), data_type="varchar(200)")
    records += [
        schema("staging"),
        table("stg_orders", schema="staging", kind="view", definition="SELECT 1"),
        column(
            "stg_orders", "customer_id", 1, schema="staging", foreign_key=ref("customers", "id")
        ),
        column("orders", "note", 4, data_type="text"),
    ]

    second = apply(records)

    assert second == {
        "database": {"created": 0, "updated": 0, "removed": 0},
        "schema": {"created": 1, "updated": 0, "removed": 1},
        "table": {"created": 1, "updated": 1, "removed": 2},
        "column": {"created": 2, "updated": 1, "removed": 2},
    }
    assert Schema.objects.get(name="archive").removed
    assert {t.name for t in Table.objects.filter(removed=True)} == {"legacy", "orders_2019"}
    assert {(c.table.name, c.name) for c in Column.objects.filter(removed=True)} == {
        ("legacy", "id"),
        ("orders_2019", "id"),
    }
    assert get_column("stg_orders", "customer_id").foreign_key == get_column("customers", "id")
    assert get_table("orders").row_estimate == 12
    assert get_table("orders").last_changed_run_id == second.run.pk
    assert get_table("customers").last_changed_run_id == first.run.pk
    assert get_table("legacy").last_changed_run_id == second.run.pk
    assert get_column("customers", "email").data_type == "varchar(200)"
    assert get_column("customers", "email").last_changed_run_id == second.run.pk
    assert get_column("customers", "email").first_seen_run_id == first.run.pk


def test_database_that_vanishes_is_flagged_removed_with_everything_in_it(apply):
    apply(shop())

    counts = apply([DatabaseRecord(name="shop_v2")])

    assert counts == {
        "database": {"created": 1, "updated": 0, "removed": 1},
        "schema": {"created": 0, "updated": 0, "removed": 2},
        "table": {"created": 0, "updated": 0, "removed": 4},
        "column": {"created": 0, "updated": 0, "removed": 7},
    }
    assert Database.objects.get(name=DB).removed
    assert not Database.objects.get(name="shop_v2").removed
    for model in (Schema, Table, Column):
        assert set(model.objects.values_list("removed", flat=True)) == {True}


def test_schema_the_connector_could_not_read_keeps_its_tables(apply):
    apply(shop())
    unreadable = [
        r
        for r in without(shop(), table="orders_2019")
        if not isinstance(r, ColumnRecord) or r.schema != "archive"
    ]

    counts = apply(without(unreadable, table="legacy"), keep={(DB, "archive")})

    assert not get_table("orders_2019").removed
    assert not get_column("orders_2019", "id").removed
    assert get_table("legacy").removed  # the readable schema is still diffed
    assert counts["table"]["removed"] == 1 and counts["column"]["removed"] == 1


def test_removed_objects_are_not_counted_or_written_again(apply):
    apply(shop())
    without_legacy = without(shop(), table="legacy")
    removing = apply(without_legacy)
    assert removing["table"]["removed"] == 1

    again = apply(without_legacy)

    assert again["table"] == {"created": 0, "updated": 0, "removed": 0}
    assert get_table("legacy").last_changed_run_id == removing.run.pk


@pytest.mark.parametrize(
    "kind, match, get",
    [
        ("schema", is_schema("public"), lambda: Schema.objects.get(name="public")),
        ("table", is_table("orders"), lambda: get_table("orders")),
        ("column", is_column("orders", "amount"), lambda: get_column("orders", "amount")),
    ],
)
def test_user_description_survives_a_changed_warehouse_comment(apply, kind, match, get):
    apply(changed(shop(), match, description="Warehouse says"))
    obj = get()
    type(obj).objects.filter(pk=obj.pk).update(
        description="What we mean by it", description_source=DescriptionSource.USER
    )
    before = type(obj).objects.filter(pk=obj.pk).values().get()

    counts = apply(changed(shop(), match, description="Warehouse now says otherwise"))
    followed = type(obj).objects.get(pk=obj.pk).warehouse_description
    dropped = apply(changed(shop(), match, description=""))

    obj.refresh_from_db()
    assert (obj.description, obj.description_source) == (
        "What we mean by it",
        DescriptionSource.USER,
    )
    # Only the warehouse's own comment, kept for taking dbt's back, follows the warehouse.
    assert (followed, obj.warehouse_description) == ("Warehouse now says otherwise", "")
    written = {"warehouse_description", "updated_at", "last_changed_run_id"}
    after = type(obj).objects.filter(pk=obj.pk).values().get()
    assert {k: v for k, v in after.items() if k not in written} == {
        k: v for k, v in before.items() if k not in written
    }
    assert counts[kind]["updated"] == 1 and dropped[kind]["updated"] == 1


@pytest.mark.parametrize(
    "match, get",
    [
        (is_table("orders"), lambda: get_table("orders")),
        (is_column("orders", "amount"), lambda: get_column("orders", "amount")),
    ],
)
def test_warehouse_description_follows_the_comment_and_is_cleared_when_it_is_dropped(
    apply, match, get
):
    apply(changed(shop(), match, description="First words"))
    assert (get().description, get().description_source) == ("First words", "warehouse")

    changed_counts = apply(changed(shop(), match, description="Second words"))
    assert (get().description, get().description_source) == ("Second words", "warehouse")
    assert get().last_changed_run_id == changed_counts.run.pk

    apply(changed(shop(), match, description=""))
    assert (get().description, get().description_source) == ("", "")

    apply(changed(shop(), match, description="Back again"))
    assert (get().description, get().description_source) == ("Back again", "warehouse")


def test_dbt_description_is_not_overwritten_by_the_warehouse(apply):
    apply(shop())
    Table.objects.filter(name="orders").update(
        description="From the dbt model", description_source=DescriptionSource.DBT
    )

    apply(changed(shop(), is_table("orders"), description="A new COMMENT"))
    assert (get_table("orders").description, get_table("orders").description_source) == (
        "From the dbt model",
        "dbt",
    )
    apply(changed(shop(), is_table("orders"), description=""))
    assert (get_table("orders").description, get_table("orders").description_source) == (
        "From the dbt model",
        "dbt",
    )


def test_reapplying_the_same_records_writes_nothing(apply, integration):
    apply(shop())
    before = catalog_state()
    run = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)

    with CaptureQueriesContext(connection) as queries:
        counts = catalog_apply(integration=integration, run=run, records=shop())

    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    assert statements, "the apply reads the catalog"
    assert [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))] == []
    assert all(c == {"created": 0, "updated": 0, "removed": 0} for c in counts.values())
    assert catalog_state() == before


def test_removed_table_that_comes_back_is_restored_with_the_same_pk(apply):
    apply(shop())
    legacy = get_table("legacy")
    legacy_column = get_column("legacy", "id")
    Table.objects.filter(pk=legacy.pk).update(
        description="Kept for audits", description_source=DescriptionSource.USER
    )
    apply(without(shop(), table="legacy"))
    assert get_table("legacy").removed and get_column("legacy", "id").removed

    back = apply(shop())

    restored = Table.objects.get(pk=legacy.pk)
    assert not restored.removed
    assert restored.description == "Kept for audits"
    assert restored.last_changed_run_id == back.run.pk
    assert not Column.objects.get(pk=legacy_column.pk).removed
    assert Table.objects.filter(name="legacy").count() == 1
    assert back["table"] == {"created": 0, "updated": 1, "removed": 0}
    assert back["column"] == {"created": 0, "updated": 1, "removed": 0}


def test_foreign_key_to_a_column_outside_the_records_warns_and_sets_none(apply):
    warnings: list[str] = []
    records = changed(
        shop(), is_column("orders", "customer_id"), foreign_key=ref("people", "id", schema="crm")
    )

    apply(records, warn=warnings.append)

    assert warnings == [
        "Foreign key public.orders.customer_id references crm.people.id, "
        "which is outside the synced schemas."
    ]
    assert get_column("orders", "customer_id").foreign_key is None
    assert not Table.objects.filter(name="people").exists()


def test_foreign_key_that_moves_outside_the_records_is_cleared(apply):
    apply(shop())
    warnings: list[str] = []

    counts = apply(
        changed(shop(), is_column("orders", "customer_id"), foreign_key=ref("people", "id", "crm")),
        warn=warnings.append,
    )

    assert len(warnings) == 1
    assert get_column("orders", "customer_id").foreign_key is None
    assert counts["column"] == {"created": 0, "updated": 1, "removed": 0}


def test_foreign_key_change_updates_the_foreign_key(apply):
    apply(shop())
    retargeted = changed(
        shop(), is_column("orders", "customer_id"), foreign_key=ref("legacy", "id")
    )

    moved = apply(retargeted)

    customer_id = get_column("orders", "customer_id")
    assert customer_id.foreign_key == get_column("legacy", "id")
    assert customer_id.last_changed_run_id == moved.run.pk
    assert moved["column"] == {"created": 0, "updated": 1, "removed": 0}

    dropped = apply(changed(shop(), is_column("orders", "customer_id"), foreign_key=None))

    assert get_column("orders", "customer_id").foreign_key is None
    assert dropped["column"] == {"created": 0, "updated": 1, "removed": 0}


def test_column_whose_type_and_foreign_key_both_change_counts_as_one_update(apply):
    apply(shop())

    counts = apply(
        changed(
            shop(),
            is_column("orders", "customer_id"),
            foreign_key=ref("legacy", "id"),
            data_type="bigint",
        )
    )

    assert counts["column"] == {"created": 0, "updated": 1, "removed": 0}
    customer_id = get_column("orders", "customer_id")
    assert (customer_id.data_type, customer_id.foreign_key.table.name) == ("bigint", "legacy")


def test_missing_parent_records_are_created_from_the_tables(apply):
    counts = apply([table("orders", schema="sales"), column("orders", "id", schema="sales")])

    assert counts["database"]["created"] == 1 and counts["schema"]["created"] == 1
    assert get_table("orders").schema.name == "sales"
    assert get_table("orders").schema.database.name == DB


def test_text_values_a_connector_leaves_as_none_are_stored_as_empty(apply):
    apply(
        [
            table("orders", owner=None, definition=None),
            column("orders", "id", default=None),
        ]
    )

    orders = get_table("orders")
    assert (orders.warehouse_owner, orders.definition) == ("", "")
    assert get_column("orders", "id").default == ""


def test_apply_leaves_other_integrations_alone(apply, integration):
    other = Integration.objects.create(connector="postgres", name="other", config={})
    apply(shop())
    apply(shop(), into=other)
    mine = catalog_state()

    counts = apply([DatabaseRecord(name=DB)], into=other)

    assert counts["table"] == {"created": 0, "updated": 0, "removed": 4}
    assert Table.objects.filter(integration=other, removed=True).count() == 4
    assert not Table.objects.filter(integration=integration, removed=True).exists()
    assert {
        k: [row for row in rows if row["integration_id"] == integration.pk]
        for k, rows in catalog_state().items()
    } == {
        k: [row for row in rows if row["integration_id"] == integration.pk]
        for k, rows in mine.items()
    }


def big_warehouse(tables: int = 300, columns: int = 10, data_type: str = "integer") -> list:
    records: list = [DatabaseRecord(name=DB), schema("public")]
    for t in range(tables):
        records.append(table(f"t{t:03d}", row_estimate=t))
        for c in range(columns):
            records.append(
                column(
                    f"t{t:03d}",
                    f"c{c}",
                    c + 1,
                    data_type=data_type,
                    foreign_key=ref("t000", "c0") if c == 1 else None,
                )
            )
    return records


def test_apply_of_300_tables_with_10_columns_takes_a_bounded_number_of_statements(apply):
    with CaptureQueriesContext(connection) as created:
        counts = apply(big_warehouse())

    assert counts["table"]["created"] == 300 and counts["column"]["created"] == 3000
    assert Column.objects.exclude(foreign_key=None).count() == 300
    assert len(created.captured_queries) < 40

    with CaptureQueriesContext(connection) as updated:
        counts = apply(big_warehouse(data_type="bigint"))

    assert counts["column"] == {"created": 0, "updated": 3000, "removed": 0}
    assert set(Column.objects.values_list("data_type", flat=True)) == {"bigint"}
    assert len(updated.captured_queries) < 40

    with CaptureQueriesContext(connection) as removed:
        counts = apply(big_warehouse(tables=1))

    assert counts["table"]["removed"] == 299 and counts["column"]["removed"] == 2990
    assert len(removed.captured_queries) < 40


@pytest.fixture
def committed_integration(transactional_db) -> Integration:
    return Integration.objects.create(connector="postgres", name="warehouse", config={"host": "h"})


def a_changed_shop() -> list:
    """Changes at every level, so that a failure in the columns comes after writes above."""
    records = without(shop(), table="legacy")
    records = changed(records, is_table("orders"), description="Rewritten", row_estimate=99)
    records = changed(records, is_column("orders", "customer_id"), foreign_key=None)
    return records + [schema("staging"), table("new_one", schema="staging")]


def test_a_constraint_violation_midway_leaves_the_catalog_exactly_as_before(committed_integration):
    integration = committed_integration
    first = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    catalog_apply(integration=integration, run=first, records=shop())
    before = catalog_state()
    second = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    records = a_changed_shop() + [column("new_one", "x" * 256, schema="staging")]

    with pytest.raises(DataError):
        catalog_apply(integration=integration, run=second, records=records)

    assert catalog_state() == before


def test_an_error_while_writing_columns_leaves_the_catalog_exactly_as_before(
    committed_integration, monkeypatch
):
    integration = committed_integration
    first = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    catalog_apply(integration=integration, run=first, records=shop())
    before = catalog_state()
    second = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Column.objects, "bulk_create", fail)
    records = a_changed_shop() + [column("new_one", "id", schema="staging")]

    with pytest.raises(RuntimeError, match="disk full"):
        catalog_apply(integration=integration, run=second, records=records)

    assert catalog_state() == before
    monkeypatch.undo()
    catalog_apply(integration=integration, run=second, records=records)
    assert get_table("new_one").columns.get().name == "id"
    assert get_table("orders").description == "Rewritten"


def test_a_second_apply_of_one_integration_waits_for_the_first_to_commit(committed_integration):
    integration = committed_integration
    run = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    outcome: dict = {}

    def second_apply() -> None:
        try:
            outcome["counts"] = catalog_apply(integration=integration, run=run, records=shop())
        except Exception as exc:  # reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        # A lock that conflicts with the apply's FOR UPDATE but not with the KEY SHARE of the
        # foreign key checks of its inserts: any wait seen is on the apply's own lock.
        Integration.objects.select_for_update(no_key=True).get(pk=integration.pk)
        other = threading.Thread(target=second_apply)
        other.start()
        # Stops early if the second apply finishes instead, which the next line reports.
        wait_until(
            lambda: _someone_waits_on_my_locks() or outcome,
            timeout=30,
            what="the second apply to block",
        )
        assert other.is_alive() and outcome == {}

    other.join(timeout=60)
    assert not other.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["counts"]["table"]["created"] == 4


def _someone_waits_on_my_locks() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks "
            "WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        )
        return cursor.fetchone()[0] > 0


def test_warehouse_labels_become_tags_unless_a_person_set_them(apply):
    labelled = changed(shop(), is_table("orders"), tags=("team:sales",), properties={"bytes": 10})
    apply(labelled)
    orders = get_table("orders")
    assert (orders.tags, orders.tags_source, orders.properties) == (
        ["team:sales"],
        "warehouse",
        {"bytes": 10},
    )

    apply(changed(shop(), is_table("orders"), tags=("team:finance",)))
    assert get_table("orders").tags == ["team:finance"]

    Table.objects.filter(pk=orders.pk).update(tags=["gold"], tags_source=DescriptionSource.USER)
    apply(changed(shop(), is_table("orders"), tags=("team:ops",)))
    assert (get_table("orders").tags, get_table("orders").tags_source) == (["gold"], "user")

    Table.objects.filter(pk=orders.pk).update(
        tags=["team:ops"], tags_source=DescriptionSource.WAREHOUSE
    )
    apply(shop())  # the label was dropped in the warehouse
    assert (get_table("orders").tags, get_table("orders").tags_source) == ([], "")
