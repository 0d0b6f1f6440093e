"""End to end: a Postgres warehouse synced by a real Celery worker process over Redis."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog.models import Column, Database, DescriptionSource, Schema, Table
from catalog.selectors import catalog_export_data
from integrations.models import Integration, SyncRun
from integrations.services import integration_create, integration_update, sync_start
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


def run_sync(integration: Integration, timeout: float = 90) -> SyncRun:
    run = sync_start(integration=integration)

    def finished():
        run.refresh_from_db()
        return run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED)

    wait_until(finished, timeout=timeout, what=f"sync #{run.pk} to finish")
    return run


def server_columns(pg_server, dbname: str) -> set[tuple]:
    """What the server itself reports, through information_schema and format_type."""
    with pg_server.connect(dbname) as conn:
        rows = conn.execute(
            """
            SELECT c.table_schema, c.table_name, c.column_name,
                   format_type(a.atttypid, a.atttypmod), c.is_nullable = 'YES', c.ordinal_position
            FROM information_schema.columns c
            JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
                                AND a.attname = c.column_name
            WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
            """
        ).fetchall()
    return set(rows)


def catalog_columns(integration) -> set[tuple]:
    return {
        (c.table.schema.name, c.table.name, c.name, c.data_type, c.nullable, c.ordinal)
        for c in Column.objects.filter(integration=integration, removed=False).select_related(
            "table__schema"
        )
    }


@pytest.fixture
def integration(worker, warehouse_config, django_user_model) -> Integration:
    return integration_create(connector_key="postgres", name="jaffle_shop", config=warehouse_config)


def test_worker_sync_catalogs_every_schema_table_and_column_the_server_reports(
    integration, pg_server, warehouse
):
    run = run_sync(integration)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.started_at and run.finished_at and run.attempts == 1
    assert run.progress_total == 10 and run.progress_done == 10
    assert set(Database.objects.values_list("name", flat=True)) == {warehouse}
    assert set(Schema.objects.values_list("name", flat=True)) == {
        "analytics",
        "analytics_marts",
        "analytics_snapshots",
        "public",
    }
    with pg_server.connect(warehouse) as conn:
        relations = set(
            conn.execute(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                "WHERE table_schema LIKE 'analytics%'"
            ).fetchall()
        )
    kinds = {"BASE TABLE": "table", "VIEW": "view"}
    assert {(t.schema.name, t.name, t.kind) for t in Table.objects.select_related("schema")} == {
        (schema, name, kinds[kind]) for schema, name, kind in relations
    }
    assert len(relations) == 10
    assert catalog_columns(integration) == server_columns(pg_server, warehouse)
    assert len(catalog_columns(integration)) == 50
    assert run.counts["table"] == {"created": 10, "updated": 0, "removed": 0}
    assert run.counts["column"] == {"created": 50, "updated": 0, "removed": 0}

    dim_dates = Table.objects.get(name="dim_dates")
    assert list(dim_dates.columns.filter(is_primary_key=True).values_list("name", flat=True)) == [
        "date_day"
    ]

    with pg_server.connect(warehouse) as conn:
        comments = conn.execute(
            """
            SELECT n.nspname, c.relname, a.attname, d.description
            FROM pg_description d
            JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
            WHERE n.nspname LIKE 'analytics%'
            """
        ).fetchall()
    assert len(comments) == 23
    described = {
        (t.schema.name, t.name, None, t.description)
        for t in Table.objects.select_related("schema").exclude(description="")
    } | {
        (c.table.schema.name, c.table.name, c.name, c.description)
        for c in Column.objects.select_related("table__schema").exclude(description="")
    }
    assert described == set(comments)
    assert dim_dates.description.endswith("\n")  # the fixture's folded YAML keeps it
    assert Table.objects.filter(description_source=DescriptionSource.WAREHOUSE).count() == 5
    assert Column.objects.filter(description_source=DescriptionSource.WAREHOUSE).count() == 18

    integration.refresh_from_db()
    assert integration.status == Integration.Status.HEALTHY
    assert integration.last_sync_id == run.pk


def test_second_sync_of_an_unchanged_warehouse_changes_nothing(integration):
    first = run_sync(integration)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    before = {
        model: list(
            model.objects.order_by("pk").values_list("pk", "updated_at", "last_changed_run_id")
        )
        for model in (Database, Schema, Table, Column)
    }

    second = run_sync(integration)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert all(c == {"created": 0, "updated": 0, "removed": 0} for c in second.counts.values())
    after = {
        model: list(
            model.objects.order_by("pk").values_list("pk", "updated_at", "last_changed_run_id")
        )
        for model in (Database, Schema, Table, Column)
    }
    assert after == before


def test_dropped_table_is_marked_removed_keeping_user_text_and_renamed_column_shows_up(
    integration, pg_server, warehouse
):
    assert run_sync(integration).status == SyncRun.Status.SUCCEEDED
    snapshot = Table.objects.get(name="raw_orders_snapshot")
    Table.objects.filter(pk=snapshot.pk).update(
        description="Kept for audits", description_source=DescriptionSource.USER
    )
    old_column = Column.objects.get(table__name="customers", name="first_name")
    snapshot_columns = snapshot.columns.count()
    assert snapshot_columns == 8
    with pg_server.connect(warehouse) as conn:
        conn.execute("DROP TABLE analytics_snapshots.raw_orders_snapshot")
        conn.execute("ALTER TABLE analytics.customers RENAME COLUMN first_name TO given_name")

    run = run_sync(integration)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    snapshot.refresh_from_db()
    assert snapshot.removed and snapshot.pk == snapshot.pk
    assert snapshot.description == "Kept for audits"
    assert snapshot.last_changed_run_id == run.pk
    assert all(c.removed for c in snapshot.columns.all())
    old_column.refresh_from_db()
    assert old_column.removed
    renamed = Column.objects.get(table__name="customers", name="given_name")
    assert not renamed.removed and renamed.first_seen_run_id == run.pk
    assert renamed.ordinal == old_column.ordinal
    assert run.counts["table"] == {"created": 0, "updated": 0, "removed": 1}
    assert run.counts["column"] == {
        "created": 1,
        "updated": 0,
        "removed": snapshot_columns + 1,
    }


def test_restored_table_is_brought_back_with_its_ids(integration, pg_server, warehouse):
    assert run_sync(integration).status == SyncRun.Status.SUCCEEDED
    before = Table.objects.get(name="dim_dates")
    with pg_server.connect(warehouse) as conn:
        conn.execute("ALTER TABLE analytics_marts.dim_dates RENAME TO dim_dates_old")
    assert run_sync(integration).status == SyncRun.Status.SUCCEEDED
    assert Table.objects.get(pk=before.pk).removed
    with pg_server.connect(warehouse) as conn:
        conn.execute("ALTER TABLE analytics_marts.dim_dates_old RENAME TO dim_dates")
    run = run_sync(integration)
    restored = Table.objects.get(name="dim_dates")
    assert restored.pk == before.pk and not restored.removed
    assert run.counts["table"]["updated"] == 1


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing_database", "Database 'no_such_db' does not exist"),
        ("unreachable_host", "Could not connect to 127.0.0.1:"),
    ],
)
def test_failed_sync_keeps_the_previous_catalog_and_says_why(
    integration, worker, breakage, message
):
    assert run_sync(integration).status == SyncRun.Status.SUCCEEDED
    before = catalog_export_data(integration=integration)["integrations"][0]["databases"]
    config = dict(integration.config)
    if breakage == "missing_database":
        config["database"] = "no_such_db"
    else:
        from tests.support.postgres import free_port

        config["port"] = free_port()  # nothing listens there
    integration_update(integration=integration, config=config, test_connection=False)

    run = run_sync(integration, timeout=120)

    assert run.status == SyncRun.Status.FAILED
    assert message in run.error
    if breakage == "unreachable_host":
        assert run.attempts == 2 and "gave up after 2 attempts" in run.error
    else:
        assert run.attempts == 1  # a permanent error is not retried
    assert catalog_export_data(integration=integration)["integrations"][0]["databases"] == before
    integration.refresh_from_db()
    assert integration.status == Integration.Status.FAILING


def test_wrong_password_fails_with_a_clear_message_and_leaks_it_nowhere(
    worker, password_cluster, caplog
):
    server = password_cluster
    dbname = server.create_database("wh")
    server.restore(dbname)
    good = server.integration_config(dbname)
    integration = integration_create(connector_key="postgres", name="secure", config=good)
    assert run_sync(integration).status == SyncRun.Status.SUCCEEDED
    tables_before = list(Table.objects.values_list("pk", "name", "updated_at"))
    wrong_password = "Wr0ng-" + server.password[:12]
    integration_update(
        integration=integration, config={**good, "password": wrong_password}, test_connection=False
    )

    run = run_sync(integration)

    assert run.status == SyncRun.Status.FAILED
    assert "Authentication failed for user 'postgres'" in run.error
    assert "check the user name and password" in run.error
    assert list(Table.objects.values_list("pk", "name", "updated_at")) == tables_before
    for secret in (wrong_password, server.password):
        assert secret not in run.error
        assert secret not in worker.log()
        assert secret not in caplog.text
        assert secret not in repr(integration)


def test_stored_credentials_are_encrypted_in_the_database(worker, warehouse_config):
    secret = "s3cret-" + "x" * 20
    integration = integration_create(
        connector_key="postgres",
        name="enc",
        config={**warehouse_config, "password": secret},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT config FROM integrations_integration WHERE id = %s", [integration.pk]
        )
        raw = bytes(cursor.fetchone()[0])
    assert secret.encode() not in raw
    assert warehouse_config["database"].encode() not in raw
    assert Integration.objects.get(pk=integration.pk).config["password"] == secret
