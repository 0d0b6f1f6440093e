"""The PostgreSQL connector against the real server: what `extract` yields for DDL we create,
what `test_connection` says, and how connect errors are classified."""

from __future__ import annotations

import uuid
from collections import Counter

import psycopg
import pytest

from integrations.connectors import postgres
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    ConnectorError,
    DatabaseRecord,
    SchemaRecord,
    TransientConnectorError,
)
from tests.support.postgres import free_port
from tests.support.reporting import Extracted, RecordingReporter, extract_with


def extract(config: dict) -> Extracted:
    return extract_with(postgres, config)


@pytest.fixture
def fresh_db(pg_server):
    """An empty database of our own; yields its name."""
    name = pg_server.create_database("pgconn")
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def run_sql(pg_server, fresh_db):
    def run(sql: str) -> None:
        with pg_server.connect(fresh_db) as conn:
            conn.execute(sql)

    return run


@pytest.fixture
def config(pg_server, fresh_db) -> dict:
    return pg_server.integration_config(fresh_db)


def squash(sql: str) -> str:
    return " ".join(sql.split())


PARTITIONS_DDL = """
CREATE TABLE public.events (id int NOT NULL, day date NOT NULL, payload text,
                            PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (id);
CREATE TABLE public.events_2025_low PARTITION OF public.events_2025 FOR VALUES IN (1, 2, 3);
CREATE TABLE public.events_2025_high PARTITION OF public.events_2025 FOR VALUES IN (4, 5, 6);
INSERT INTO public.events (id, day) VALUES
    (1, '2024-02-01'), (2, '2024-03-01'), (3, '2024-04-01'),
    (1, '2025-02-01'), (2, '2025-02-02'),
    (4, '2025-03-01'), (5, '2025-03-02'), (6, '2025-03-03'), (4, '2025-03-04');
ANALYZE;
"""


def test_partitioned_table_is_yielded_once_with_the_rows_of_its_leaf_partitions(run_sql, config):
    run_sql(PARTITIONS_DDL)

    got = extract(config)

    assert set(got.tables) == {("public", "events")}
    events = got.tables["public", "events"]
    assert events.kind == "partitioned_table"
    assert events.row_estimate == 3 + 2 + 4
    assert [c.name for c in got.columns_of("public", "events")] == ["id", "day", "payload"]
    assert {t for (_, t, _) in got.columns} == {"events"}


def test_partitioned_table_without_statistics_has_no_negative_row_estimate(run_sql, config):
    run_sql(PARTITIONS_DDL.replace("ANALYZE;", ""))

    events = extract(config).tables["public", "events"]

    # Never-analyzed partitions report reltuples = -1; they must not drag the sum below zero.
    assert events.row_estimate is not None and events.row_estimate >= 0


def test_foreign_key_to_a_partitioned_table_points_at_the_parent_not_a_partition(run_sql, config):
    run_sql(PARTITIONS_DDL)
    # PostgreSQL adds one constraint per partition of the referenced table, named by the
    # default scheme (attendance_event_id_event_day_fkey...); ours sorts after them.
    run_sql(
        """
        CREATE TABLE public.attendance (
            id int PRIMARY KEY, event_id int, event_day date,
            CONSTRAINT zz_attendance_event FOREIGN KEY (event_id, event_day)
                REFERENCES public.events (id, day));
        """
    )

    got = extract(config)

    assert got.columns["public", "attendance", "event_id"].foreign_key == ColumnRef(
        config["database"], "public", "events", "id"
    )
    assert got.columns["public", "attendance", "event_day"].foreign_key == ColumnRef(
        config["database"], "public", "events", "day"
    )


def test_materialized_view_and_view_carry_kind_and_definition(run_sql, config):
    run_sql(
        """
        CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(10, 2));
        INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 7) g;
        CREATE VIEW public.big_orders AS SELECT id, amount FROM public.orders WHERE amount > 5;
        CREATE MATERIALIZED VIEW public.order_totals AS
            SELECT count(*) AS n, sum(amount) AS total FROM public.orders;
        ANALYZE;
        """
    )

    got = extract(config)

    view = got.tables["public", "big_orders"]
    assert view.kind == "view"
    assert squash(view.definition) == (
        "SELECT orders.id, orders.amount FROM orders WHERE (orders.amount > (5)::numeric);"
    )
    assert view.row_estimate is None
    matview = got.tables["public", "order_totals"]
    assert matview.kind == "materialized_view"
    assert squash(matview.definition) == (
        "SELECT count(*) AS n, sum(orders.amount) AS total FROM orders;"
    )
    assert matview.row_estimate == 1
    assert [(c.name, c.data_type) for c in got.columns_of("public", "order_totals")] == [
        ("n", "bigint"),
        ("total", "numeric"),
    ]
    orders = got.tables["public", "orders"]
    assert (orders.kind, orders.definition, orders.row_estimate) == ("table", "", 7)


def test_foreign_table_is_yielded_with_its_kind(pg_server, run_sql, config):
    with pg_server.connect() as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'"
        ).fetchone()
    if not available:
        pytest.skip("postgres_fdw is not installed on this server")
    run_sql(
        """
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host '127.0.0.1', dbname 'nowhere');
        CREATE FOREIGN TABLE public.remote_things (id int NOT NULL, label text)
            SERVER elsewhere OPTIONS (table_name 'things');
        """
    )

    got = extract(config)

    remote = got.tables["public", "remote_things"]
    assert remote.kind == "foreign_table"
    assert remote.row_estimate is None
    assert [(c.name, c.nullable) for c in got.columns_of("public", "remote_things")] == [
        ("id", False),
        ("label", True),
    ]


def test_columns_carry_types_defaults_not_null_and_composite_primary_key(run_sql, config):
    run_sql(
        """
        CREATE TABLE public.order_lines (
            order_id int NOT NULL,
            line_no smallint NOT NULL,
            sku varchar(40) NOT NULL DEFAULT 'unknown',
            quantity int DEFAULT 1,
            price numeric(10, 2),
            created_at timestamptz NOT NULL DEFAULT now(),
            note text,
            PRIMARY KEY (order_id, line_no));
        ALTER TABLE public.order_lines DROP COLUMN note;
        """
    )

    columns = extract(config).columns_of("public", "order_lines")

    assert [
        (c.name, c.ordinal, c.data_type, c.nullable, c.default, c.is_primary_key) for c in columns
    ] == [
        ("order_id", 1, "integer", False, "", True),
        ("line_no", 2, "smallint", False, "", True),
        ("sku", 3, "character varying(40)", False, "'unknown'::character varying", False),
        ("quantity", 4, "integer", True, "1", False),
        ("price", 5, "numeric(10,2)", True, "", False),
        ("created_at", 6, "timestamp with time zone", False, "now()", False),
    ]
    assert all(c.foreign_key is None for c in columns)


def test_serial_column_default_is_its_sequence(run_sql, config):
    run_sql("CREATE TABLE public.things (id serial PRIMARY KEY)")

    (column,) = extract(config).columns_of("public", "things")

    assert column.default == "nextval('things_id_seq'::regclass)"
    assert (column.nullable, column.is_primary_key) == (False, True)


def test_multi_column_foreign_key_maps_each_column_to_the_column_it_references(run_sql, config):
    run_sql(
        """
        CREATE TABLE public.orders (id int, day date, PRIMARY KEY (id, day));
        CREATE TABLE public.shipments (
            id int PRIMARY KEY, shipped_day date, order_ref int,
            FOREIGN KEY (shipped_day, order_ref) REFERENCES public.orders (day, id));
        """
    )

    got = extract(config)

    db = config["database"]
    assert got.columns["public", "shipments", "shipped_day"].foreign_key == ColumnRef(
        db, "public", "orders", "day"
    )
    assert got.columns["public", "shipments", "order_ref"].foreign_key == ColumnRef(
        db, "public", "orders", "id"
    )
    assert got.columns["public", "shipments", "id"].foreign_key is None
    assert [c.is_primary_key for c in got.columns_of("public", "orders")] == [True, True]


def test_column_in_two_foreign_keys_points_at_the_first_by_constraint_name(run_sql, config):
    run_sql(
        """
        CREATE TABLE public.people (id int PRIMARY KEY);
        CREATE TABLE public.accounts (id int PRIMARY KEY);
        CREATE TABLE public.owners (
            ref int,
            CONSTRAINT b_owner_person FOREIGN KEY (ref) REFERENCES public.people,
            CONSTRAINT a_owner_account FOREIGN KEY (ref) REFERENCES public.accounts);
        """
    )

    got = extract(config)

    assert got.columns["public", "owners", "ref"].foreign_key == ColumnRef(
        config["database"], "public", "accounts", "id"
    )


def test_foreign_key_to_a_table_in_another_schema_names_that_schema(run_sql, config):
    run_sql(
        """
        CREATE SCHEMA ref;
        CREATE TABLE ref.countries (code char(2) PRIMARY KEY, name text);
        CREATE TABLE public.customers (id int PRIMARY KEY,
                                       country char(2) REFERENCES ref.countries);
        """
    )

    got = extract(config)

    assert got.columns["public", "customers", "country"].foreign_key == ColumnRef(
        config["database"], "ref", "countries", "code"
    )


def test_foreign_key_into_an_excluded_schema_is_still_reported(run_sql, config):
    run_sql(
        """
        CREATE SCHEMA ref;
        CREATE TABLE ref.countries (code char(2) PRIMARY KEY);
        CREATE TABLE public.customers (id int PRIMARY KEY,
                                       country char(2) REFERENCES ref.countries);
        """
    )

    got = extract({**config, "schema_exclude": ["ref"]})

    # The catalog decides what to do with a reference it cannot resolve (a warning).
    assert ("ref", "countries") not in got.tables
    assert got.columns["public", "customers", "country"].foreign_key == ColumnRef(
        config["database"], "ref", "countries", "code"
    )


def test_quoted_mixed_case_names_are_kept_as_they_are(run_sql, config):
    run_sql(
        """
        CREATE SCHEMA "Sales";
        CREATE TABLE "Sales"."MixedCase" ("CamelId" int PRIMARY KEY, "Has Space" text);
        CREATE TABLE public.lowered ("mixedRef" int REFERENCES "Sales"."MixedCase");
        """
    )

    got = extract(config)

    assert "Sales" in got.schemas
    assert got.tables["Sales", "MixedCase"].kind == "table"
    assert [c.name for c in got.columns_of("Sales", "MixedCase")] == ["CamelId", "Has Space"]
    assert got.columns["public", "lowered", "mixedRef"].foreign_key == ColumnRef(
        config["database"], "Sales", "MixedCase", "CamelId"
    )


def test_comments_on_database_schema_table_and_column_become_descriptions(
    run_sql, config, fresh_db
):
    run_sql(
        f"""
        COMMENT ON DATABASE "{fresh_db}" IS 'The shop';
        CREATE SCHEMA marts;
        COMMENT ON SCHEMA marts IS 'Tables for analysts';
        CREATE TABLE marts.customers (id int PRIMARY KEY, email text, name text);
        COMMENT ON TABLE marts.customers IS 'One row per customer.
Deduplicated on email.';
        COMMENT ON COLUMN marts.customers.email IS 'Lower-cased';
        """
    )

    got = extract(config)

    assert got.databases == [DatabaseRecord(name=fresh_db, description="The shop")]
    assert got.schemas["marts"].description == "Tables for analysts"
    assert got.schemas["marts"].owner == "postgres"
    assert got.tables["marts", "customers"].description == (
        "One row per customer.\nDeduplicated on email."
    )
    assert got.tables["marts", "customers"].owner == "postgres"
    assert [(c.name, c.description) for c in got.columns_of("marts", "customers")] == [
        ("id", ""),
        ("email", "Lower-cased"),
        ("name", ""),
    ]


SCHEMAS_DDL = """
CREATE SCHEMA sales; CREATE TABLE sales.orders (id int);
CREATE SCHEMA sales_archive; CREATE TABLE sales_archive.orders (id int);
CREATE SCHEMA staging; CREATE TABLE staging.orders (id int);
CREATE TABLE public.orders (id int);
"""


@pytest.mark.parametrize(
    "include, exclude, expected",
    [
        ([], [], {"public", "sales", "sales_archive", "staging"}),
        (["sales*"], [], {"sales", "sales_archive"}),
        (["SALES*", "public"], ["*_archive"], {"public", "sales"}),
        ([], ["sales*", "public"], {"staging"}),
        (["sales"], ["sales"], set()),
    ],
)
def test_schema_patterns_select_schemas_and_exclude_wins(
    run_sql, config, include, exclude, expected
):
    run_sql(SCHEMAS_DDL)

    got = extract({**config, "schema_include": include, "schema_exclude": exclude})

    assert set(got.schemas) == expected
    assert {schema for schema, _ in got.tables} == expected
    assert {schema for schema, _, _ in got.columns} == expected
    assert got.reporter.progress_calls[-1] == (len(expected), len(expected))


def test_system_and_temporary_schemas_are_never_yielded(pg_server, fresh_db, config):
    with pg_server.connect(fresh_db) as conn:
        conn.execute("CREATE TEMP TABLE scratch (id int)")  # alive while conn is open

        got = extract(config)

    assert set(got.schemas) == {"public"}
    assert got.tables == {}


def test_progress_counts_relations_and_ends_at_done_equals_total(run_sql, config, monkeypatch):
    monkeypatch.setattr(postgres, "BATCH_SIZE", 3)
    run_sql(
        "".join(f"CREATE TABLE public.t{i} (id int);" for i in range(6))
        + "CREATE VIEW public.v AS SELECT 1 AS one;"
    )

    got = extract(config)

    assert got.reporter.progress_calls == [(0, 7), (3, 7), (6, 7), (7, 7)]
    assert got.reporter.warnings == []


def test_empty_database_reports_zero_of_zero(config, fresh_db):
    got = extract(config)

    assert got.reporter.progress_calls == [(0, 0)]
    assert [type(r) for r in got.records] == [DatabaseRecord, SchemaRecord]


def test_more_tables_than_a_batch_yields_every_column_once_with_keys_across_batches(
    run_sql, config, monkeypatch
):
    monkeypatch.setattr(postgres, "BATCH_SIZE", 4)
    tables = [f"t{i:02d}" for i in range(11)]
    run_sql(
        "CREATE TABLE public.t00 (id int PRIMARY KEY, label text, parent_id int);"
        + "".join(
            f"CREATE TABLE public.{name} (id int PRIMARY KEY, label text, "
            "parent_id int REFERENCES public.t00);"
            for name in tables[1:]
        )
    )

    got = extract(config)

    column_records = [r for r in got.records if isinstance(r, ColumnRecord)]
    keys = [(c.table, c.name) for c in column_records]
    assert Counter(keys).most_common(1)[0][1] == 1
    assert set(keys) == {(t, c) for t in tables for c in ("id", "label", "parent_id")}
    assert all(c.is_primary_key == (c.name == "id") for c in column_records)
    expected_ref = ColumnRef(config["database"], "public", "t00", "id")
    assert {c.table for c in column_records if c.foreign_key == expected_ref} == set(tables[1:])
    assert got.reporter.progress_calls == [(0, 11), (4, 11), (8, 11), (11, 11)]


def test_tables_come_before_their_columns(run_sql, config):
    run_sql("CREATE TABLE public.a (id int); CREATE TABLE public.b (id int);")

    kinds = [type(r).__name__ for r in extract(config).records]

    assert kinds == [
        "DatabaseRecord",
        "SchemaRecord",
        "TableRecord",
        "TableRecord",
        "ColumnRecord",
        "ColumnRecord",
    ]


def test_jaffle_shop_columns_match_what_the_server_reports(pg_server, warehouse, warehouse_config):
    got = extract(warehouse_config)

    with pg_server.connect(warehouse) as conn:
        server = set(
            conn.execute(
                """
                SELECT table_schema, table_name, column_name, ordinal_position,
                       is_nullable = 'YES'
                FROM information_schema.columns
                WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                """
            ).fetchall()
        )
    assert {(c.schema, c.table, c.name, c.ordinal, c.nullable) for c in got.columns.values()} == (
        server
    )
    assert set(got.schemas) == {"analytics", "analytics_marts", "analytics_snapshots", "public"}
    kinds = Counter(t.kind for t in got.tables.values())
    assert kinds == {"table": 7, "view": 3}
    assert all(t.definition.strip() for t in got.tables.values() if t.kind == "view"), (
        "every view has its SQL"
    )
    assert got.tables["analytics_marts", "dim_dates"].description
    assert got.reporter.progress_calls[-1] == (10, 10)


def test_test_connection_names_the_server_version_and_counts_readable_schemas(
    pg_server, warehouse_config
):
    with pg_server.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]

    message = postgres.test_connection(warehouse_config)

    assert message == f"Connected to PostgreSQL {version}; 4 schemas readable."
    assert postgres.test_connection({**warehouse_config, "schema_exclude": ["analytics*"]}) == (
        f"Connected to PostgreSQL {version}; 1 schemas readable."
    )


def test_unknown_database_is_a_permanent_error_naming_the_database(pg_server):
    config = pg_server.integration_config("no_such_database_here")

    with pytest.raises(ConnectorError) as raised:
        postgres.test_connection(config)

    assert not isinstance(raised.value, TransientConnectorError)
    assert "Database 'no_such_database_here' does not exist" in str(raised.value)
    assert f"{pg_server.host}:{pg_server.port}" in str(raised.value)


def test_closed_port_is_a_transient_error(pg_server):
    port = free_port()  # nothing listens there
    config = pg_server.integration_config("postgres", host="127.0.0.1", port=port)

    with pytest.raises(TransientConnectorError) as raised:
        list(postgres.extract(config, reporter=RecordingReporter()))

    assert f"Could not connect to 127.0.0.1:{port}" in str(raised.value)


def test_extract_connects_only_once_it_is_iterated(pg_server):
    config = pg_server.integration_config("postgres", port=free_port())

    records = postgres.extract(config, reporter=RecordingReporter())  # no error yet

    with pytest.raises(TransientConnectorError):
        next(records)


def test_unknown_host_is_a_permanent_error_naming_the_host():
    exc = psycopg.OperationalError(
        'connection is bad: could not translate host name "db.nowhere.example" to address: '
        "Name or service not known"
    )
    config = {"host": "db.nowhere.example", "port": 5432, "database": "d", "user": "u"}

    error = postgres.describe_connect_error(exc, config)

    assert type(error) is ConnectorError
    assert str(error) == "Unknown host 'db.nowhere.example': check the host name."


def test_temporary_name_resolution_failure_is_transient():
    exc = psycopg.OperationalError(
        'connection is bad: could not translate host name "db.internal" to address: '
        "Temporary failure in name resolution"
    )
    config = {"host": "db.internal", "port": 5432, "database": "d", "user": "u"}

    error = postgres.describe_connect_error(exc, config)

    assert isinstance(error, TransientConnectorError)
    assert "db.internal:5432" in str(error)


@pytest.mark.parametrize(
    "message, sqlstate, expected_type, expected_text",
    [
        (
            'FATAL:  password authentication failed for user "bob"',
            None,
            ConnectorError,
            "Authentication failed for user 'bob' on h:6543",
        ),
        ("anything", "28P01", ConnectorError, "Authentication failed for user 'bob'"),
        (
            'FATAL:  database "shop" does not exist',
            None,
            ConnectorError,
            "Database 'shop' does not exist on h:6543",
        ),
        (
            "server does not support SSL, but SSL was required",
            None,
            ConnectorError,
            "SSL negotiation with h:6543 failed",
        ),
        (
            "connection refused\n\tIs the server running on that host?",
            None,
            TransientConnectorError,
            "Could not connect to h:6543",
        ),
    ],
)
def test_connect_errors_are_classified_by_their_message(
    message, sqlstate, expected_type, expected_text
):
    class FakeDriverError(Exception):
        pass

    exc = FakeDriverError(message)
    exc.sqlstate = sqlstate
    config = {"host": "h", "port": 6543, "database": "shop", "user": "bob", "password": "S3cret-pw"}

    error = postgres.describe_connect_error(exc, config)

    assert type(error) is expected_type
    assert expected_text in str(error)
    assert "S3cret-pw" not in str(error)


@pytest.fixture
def login_role(pg_server):
    """A role that may log in (the shared server trusts it without a password); yields its name."""
    name = f"reader_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
    yield name
    with pg_server.connect() as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def closed_database(pg_server, fresh_db):
    """fresh_db with CONNECT revoked from PUBLIC: only superusers may connect."""
    with pg_server.connect() as conn:
        conn.execute(f'REVOKE CONNECT ON DATABASE "{fresh_db}" FROM PUBLIC')
    return fresh_db


def test_a_missing_connect_privilege_is_a_permanent_error_saying_what_to_grant(
    pg_server, login_role, closed_database
):
    config = pg_server.integration_config(closed_database, user=login_role)

    with pytest.raises(ConnectorError) as raised:
        postgres.test_connection(config)

    assert type(raised.value) is ConnectorError
    assert f"The user '{login_role}' may not connect to database '{closed_database}'" in str(
        raised.value
    )
    assert f'GRANT CONNECT ON DATABASE "{closed_database}" TO "{login_role}"' in str(raised.value)


def test_an_unknown_role_is_a_permanent_error_naming_the_role(pg_server, fresh_db):
    config = pg_server.integration_config(fresh_db, user="no_such_role_here")

    with pytest.raises(ConnectorError) as raised:
        postgres.test_connection(config)

    assert type(raised.value) is ConnectorError
    assert "refused user 'no_such_role_here'" in str(raised.value)
    assert 'role "no_such_role_here" does not exist' in str(raised.value)


def test_a_role_that_may_not_log_in_is_a_permanent_error(pg_server, login_role, fresh_db):
    with pg_server.connect() as conn:
        conn.execute(f'ALTER ROLE "{login_role}" NOLOGIN')
    config = pg_server.integration_config(fresh_db, user=login_role)

    with pytest.raises(ConnectorError) as raised:
        postgres.test_connection(config)

    assert type(raised.value) is ConnectorError
    assert "is not permitted to log in" in str(raised.value)


@pytest.mark.django_db
def test_a_sync_without_the_connect_privilege_fails_at_once_in_one_attempt(
    pg_server, login_role, closed_database
):
    from integrations.models import Integration, SyncRun
    from integrations.services import SyncOutcome, sync_execute

    integration = Integration.objects.create(
        connector="postgres",
        name="closed",
        config=pg_server.integration_config(closed_database, user=login_role),
    )
    run = SyncRun.objects.create(integration=integration)

    assert sync_execute(run=run) is SyncOutcome.FAILED

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.attempts == 1
    assert "may not connect to database" in run.error and "retrying" not in run.error


@pytest.mark.parametrize(
    "message, expected_text",
    [
        (
            'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "bob", database "shop"',
            "refused user 'bob'",
        ),
        ('FATAL:  permission denied for database "shop"', "may not connect to database 'shop'"),
        ("fe_sendauth: no password supplied", "Authentication failed for user 'bob'"),
    ],
)
def test_refusals_by_the_server_are_permanent(message, expected_text):
    exc = psycopg.OperationalError(f"connection failed: {message}")
    config = {"host": "h", "port": 6543, "database": "shop", "user": "bob"}

    error = postgres.describe_connect_error(exc, config)

    assert type(error) is ConnectorError and expected_text in str(error)
