"""The Snowflake connector against fakesnow, a local DuckDB stand-in that `fakesnow.patch()`
puts behind the official connector's `snowflake.connector.connect`: what `extract` yields for
DDL we create, what `test_connection` says, the SQL sent, the parsing of SHOW ... KEYS rows,
the form, how driver errors are classified, and a full sync through the service.

What fakesnow 0.12 cannot stand in for, so it is tested only with rows shaped like
Snowflake's (or not at all):
- SHOW PRIMARY KEYS / SHOW IMPORTED KEYS IN DATABASE are "not implemented": the connector
  reports a warning, and the parsing is unit-tested on hand-made rows.
- ROW_COUNT is always 0 and LAST_ALTERED always 1970-01-01; schema COMMENTs and inline column
  COMMENTs are dropped; MATERIALIZED VIEW, EXTERNAL TABLE and dynamic tables are not created.
- Logins always succeed: error mapping is tested on the driver's real exception classes.
"""

from __future__ import annotations

from datetime import datetime

import fakesnow
import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector import errors

from integrations.connectors import get_connector, registry_entry
from integrations.connectors import snowflake as sf
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    ConnectorError,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
)
from tests.support.reporting import RecordingReporter

# fakesnow copies DuckDB results through Arrow and says so on every query.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PASSWORD = "s3cret-Pa55word"

SHOP_DDL = [
    "CREATE DATABASE SHOP",
    "CREATE SCHEMA SHOP.SALES",
    "CREATE SCHEMA SHOP.STAGING",
    """CREATE TABLE SHOP.SALES.customers (
        id NUMBER(38,0) NOT NULL PRIMARY KEY,
        email VARCHAR NOT NULL,
        country VARCHAR(2),
        score NUMBER(10,2) DEFAULT 0
    ) COMMENT = 'One row per customer'""",
    """CREATE TABLE SHOP.SALES.orders (
        id INT NOT NULL,
        customer_id INT,
        created_at TIMESTAMP_NTZ,
        paid BOOLEAN,
        amount FLOAT
    )""",
    'CREATE TABLE SHOP.SALES."MixedCase" ("Id" INT, plain VARCHAR(20))',
    "CREATE VIEW SHOP.SALES.big_orders AS SELECT id, customer_id FROM SHOP.SALES.orders "
    "WHERE id > 2",
    "CREATE TABLE SHOP.STAGING.raw_events (payload VARIANT)",
    "CREATE DATABASE ARCHIVE",
    "CREATE SCHEMA ARCHIVE.OLD",
    "CREATE TABLE ARCHIVE.OLD.t (a INT)",
]


def base_config(**extra) -> dict:
    return {
        "account": "myorg-myaccount",
        "user": "CATALOG",
        "auth_method": "password",
        "password": PASSWORD,
        **extra,
    }


@pytest.fixture
def fake():
    """fakesnow behind the connector, with the shop created; fresh in-memory databases."""
    with fakesnow.patch():
        conn = snowflake.connector.connect(account="x", user="x", password="x")
        with conn.cursor() as cur:
            for statement in SHOP_DDL:
                cur.execute(statement)
        yield conn
        conn.close()


class Extracted:
    def __init__(self, records: list, reporter: RecordingReporter) -> None:
        self.records = records
        self.reporter = reporter
        self.databases = {r.name: r for r in records if isinstance(r, DatabaseRecord)}
        self.schemas = {(r.database, r.name): r for r in records if isinstance(r, SchemaRecord)}
        self.tables = {
            (r.database, r.schema, r.name): r for r in records if isinstance(r, TableRecord)
        }
        self.columns = {
            (r.database, r.schema, r.table, r.name): r
            for r in records
            if isinstance(r, ColumnRecord)
        }

    def columns_of(self, database: str, schema: str, table: str) -> list[ColumnRecord]:
        found = [c for k, c in self.columns.items() if k[:3] == (database, schema, table)]
        return sorted(found, key=lambda c: c.ordinal)


def extract(config: dict) -> Extracted:
    reporter = RecordingReporter()
    return Extracted(list(sf.extract(config, reporter=reporter)), reporter)


def test_databases_schemas_and_tables_keep_snowflake_case(fake):
    got = extract(base_config())

    assert set(got.databases) == {"SHOP", "ARCHIVE"}
    assert set(got.schemas) == {("SHOP", "SALES"), ("SHOP", "STAGING"), ("ARCHIVE", "OLD")}
    assert set(got.tables) == {
        ("SHOP", "SALES", "CUSTOMERS"),
        ("SHOP", "SALES", "ORDERS"),
        ("SHOP", "SALES", "MixedCase"),
        ("SHOP", "SALES", "BIG_ORDERS"),
        ("SHOP", "STAGING", "RAW_EVENTS"),
        ("ARCHIVE", "OLD", "T"),
    }
    assert [c.name for c in got.columns_of("SHOP", "SALES", "MixedCase")] == ["Id", "PLAIN"]


def test_tables_and_views_carry_kind_comment_owner_and_definition(fake):
    got = extract(base_config())

    customers = got.tables["SHOP", "SALES", "CUSTOMERS"]
    assert (customers.kind, customers.description) == ("table", "One row per customer")
    assert customers.owner  # fakesnow says SYSADMIN
    assert customers.definition == ""
    # fakesnow: ROW_COUNT is always 0 and LAST_ALTERED the epoch; Snowflake gives real ones.
    assert customers.row_estimate == 0
    assert customers.properties == {"bytes": 0}  # BYTES is read (fakesnow: always 0)
    assert isinstance(customers.last_altered, datetime)
    view = got.tables["SHOP", "SALES", "BIG_ORDERS"]
    assert view.kind == "view"
    assert view.row_estimate is None and view.properties == {}
    assert "WHERE" in view.definition.upper() and "> 2" in view.definition


def test_columns_carry_readable_types_nullability_defaults_and_order(fake):
    got = extract(base_config())

    customers = got.columns_of("SHOP", "SALES", "CUSTOMERS")
    assert [(c.name, c.ordinal, c.data_type, c.nullable) for c in customers] == [
        ("ID", 1, "NUMBER(38,0)", False),
        ("EMAIL", 2, "VARCHAR(16777216)", False),
        ("COUNTRY", 3, "VARCHAR(2)", True),
        ("SCORE", 4, "NUMBER(10,2)", True),
    ]
    assert got.columns["SHOP", "SALES", "CUSTOMERS", "SCORE"].default == "0"
    assert got.columns["SHOP", "SALES", "CUSTOMERS", "EMAIL"].default == ""
    orders = {c.name: c.data_type for c in got.columns_of("SHOP", "SALES", "ORDERS")}
    assert orders == {
        "ID": "NUMBER(38,0)",
        "CUSTOMER_ID": "NUMBER(38,0)",
        "CREATED_AT": "TIMESTAMP_NTZ",
        "PAID": "BOOLEAN",
        "AMOUNT": "FLOAT",
    }
    assert got.columns["SHOP", "SALES", "MixedCase", "PLAIN"].data_type == "VARCHAR(20)"
    assert got.columns["SHOP", "STAGING", "RAW_EVENTS", "PAYLOAD"].data_type == "VARIANT"


def test_comments_set_afterwards_are_read(fake):
    with fake.cursor() as cur:
        cur.execute("COMMENT ON TABLE SHOP.SALES.orders IS 'Paid and unpaid orders'")

    got = extract(base_config())

    assert got.tables["SHOP", "SALES", "ORDERS"].description == "Paid and unpaid orders"


def test_fakesnow_cannot_show_keys_in_a_database_so_each_database_warns(fake):
    got = extract(base_config(database_include=["SHOP"]))

    assert all(not c.is_primary_key and c.foreign_key is None for c in got.columns.values())
    assert len(got.reporter.warnings) == 2
    assert all(w.startswith("Keys of database SHOP were not read") for w in got.reporter.warnings)
    assert PASSWORD not in " ".join(got.reporter.warnings)


def test_database_and_schema_patterns_include_and_exclude(fake):
    got = extract(base_config(database_include=["sh*"], schema_exclude=["staging"]))

    assert set(got.databases) == {"SHOP"}
    assert set(got.schemas) == {("SHOP", "SALES")}
    assert {k[:2] for k in got.tables} == {("SHOP", "SALES")}
    assert {k[:2] for k in got.columns} == {("SHOP", "SALES")}

    got = extract(base_config(database_exclude=["SHOP"], schema_include=["OLD"]))
    assert set(got.tables) == {("ARCHIVE", "OLD", "T")}


def test_progress_counts_tables_per_database(fake):
    got = extract(base_config())

    # SHOW DATABASES answers by name: ARCHIVE (1 table), then SHOP (5).
    assert got.reporter.progress_calls == [(0, 1), (1, 1), (0, 5), (5, 5)]


def test_no_database_left_reports_empty_progress(fake):
    got = extract(base_config(database_include=["nothing*"]))

    assert got.records == []
    assert got.reporter.progress_calls == [(0, 0)]


def test_test_connection_says_version_and_databases(fake):
    message = sf.test_connection(base_config())

    assert message.startswith("Connected to Snowflake ")
    assert message.endswith("; 2 databases readable.")


class RecordingCursor:
    """Remembers the SQL; answers SHOW DATABASES with one database and the rest with nothing."""

    def __init__(self, statements: list[str]) -> None:
        self.statements = statements
        self.description: list[tuple] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def execute(self, sql: str, params=None):
        self.statements.append(" ".join(sql.split()))
        self.description = [("name",), ("comment",), ("owner",)]
        return self

    def fetchall(self) -> list[tuple]:
        if self.statements[-1] == "SHOW DATABASES":
            return [('My"Db', "", "SYSADMIN"), ("SNOWFLAKE", "", "")]
        return []


class RecordingConnection:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.kwargs: dict = {}

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self.statements)

    def close(self) -> None:
        pass


def test_a_fixed_set_of_queries_per_database_with_the_name_quoted(monkeypatch):
    conn = RecordingConnection()

    def connect(**kwargs):
        conn.kwargs = kwargs
        return conn

    monkeypatch.setattr(snowflake.connector, "connect", connect)

    records = list(sf.extract(base_config(), reporter=RecordingReporter()))

    # SNOWFLAKE (the shared usage database) is skipped; SCHEMATA came back empty, so no more.
    assert records == [DatabaseRecord(name='My"Db', owner="SYSADMIN")]
    assert conn.statements[0] == "SHOW DATABASES"
    assert conn.statements[1] == (
        'SELECT SCHEMA_NAME, COMMENT, SCHEMA_OWNER FROM "My""Db".INFORMATION_SCHEMA.SCHEMATA '
        "WHERE SCHEMA_NAME <> 'INFORMATION_SCHEMA' ORDER BY SCHEMA_NAME"
    )
    assert conn.kwargs["password"] == PASSWORD
    assert conn.kwargs["application"] == "data-catalog"
    assert conn.kwargs["login_timeout"] and conn.kwargs["network_timeout"]


def test_every_database_query_names_the_quoted_database():
    queries = sf.database_queries('My"Db')

    assert list(queries) == [
        "schemata",
        "tables",
        "views",
        "columns",
        "primary_keys",
        "imported_keys",
    ]
    assert all('"My""Db"' in sql for sql in queries.values())
    assert queries["primary_keys"] == 'SHOW PRIMARY KEYS IN DATABASE "My""Db"'
    assert queries["imported_keys"] == 'SHOW IMPORTED KEYS IN DATABASE "My""Db"'


def test_show_keys_rows_become_primary_keys_and_references():
    # Shaped as Snowflake answers SHOW PRIMARY KEYS / SHOW IMPORTED KEYS (lower-case names).
    primary_rows = [
        {"database_name": "SHOP", "schema_name": "SALES", "table_name": "ORDERS",
         "column_name": "ID", "key_sequence": 1, "constraint_name": "PK_ORDERS"},
        {"database_name": "SHOP", "schema_name": "SALES", "table_name": "LINES",
         "column_name": "ORDER_ID", "key_sequence": 1, "constraint_name": "PK_LINES"},
        {"database_name": "SHOP", "schema_name": "SALES", "table_name": "LINES",
         "column_name": "LINE_NO", "key_sequence": 2, "constraint_name": "PK_LINES"},
    ]  # fmt: skip
    imported_rows = [
        {"pk_database_name": "SHOP", "pk_schema_name": "SALES", "pk_table_name": "ORDERS",
         "pk_column_name": "ID", "fk_database_name": "SHOP", "fk_schema_name": "SALES",
         "fk_table_name": "LINES", "fk_column_name": "ORDER_ID", "key_sequence": 1,
         "fk_name": "FK_LINES_ORDER", "pk_name": "PK_ORDERS"},
        {"pk_database_name": "REF", "pk_schema_name": "PUBLIC", "pk_table_name": "Countries",
         "pk_column_name": "code", "fk_database_name": "SHOP", "fk_schema_name": "SALES",
         "fk_table_name": "CUSTOMERS", "fk_column_name": "COUNTRY", "key_sequence": 1,
         "fk_name": "FK_B", "pk_name": "PK_C"},
        {"pk_database_name": "REF", "pk_schema_name": "PUBLIC", "pk_table_name": "OTHER",
         "pk_column_name": "CODE", "fk_database_name": "SHOP", "fk_schema_name": "SALES",
         "fk_table_name": "CUSTOMERS", "fk_column_name": "COUNTRY", "key_sequence": 1,
         "fk_name": "FK_A", "pk_name": "PK_O"},
    ]  # fmt: skip

    assert sf.parse_primary_keys(primary_rows) == {
        ("SALES", "ORDERS", "ID"),
        ("SALES", "LINES", "ORDER_ID"),
        ("SALES", "LINES", "LINE_NO"),
    }
    assert sf.parse_imported_keys(imported_rows) == {
        ("SALES", "LINES", "ORDER_ID"): ColumnRef("SHOP", "SALES", "ORDERS", "ID"),
        # In several foreign keys: the first by name; across databases as stored.
        ("SALES", "CUSTOMERS", "COUNTRY"): ColumnRef("REF", "PUBLIC", "OTHER", "CODE"),
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("NUMBER", None, 38, 0), "NUMBER(38,0)"),
        (("NUMBER", None, 10, 2), "NUMBER(10,2)"),
        (("TEXT", 16777216, None, None), "VARCHAR(16777216)"),
        (("BINARY", 8388608, None, None), "BINARY(8388608)"),
        (("FLOAT", None, None, None), "FLOAT"),
        (("TIMESTAMP_LTZ", None, None, None), "TIMESTAMP_LTZ"),
    ],
)
def test_information_schema_types_become_readable(args, expected):
    assert sf.readable_type(*args) == expected


def test_dynamic_tables_are_tables_noted_in_the_description():
    row = {
        "table_schema": "S",
        "table_name": "D",
        "table_type": "BASE TABLE",
        "comment": "Fresh orders",
        "row_count": 10,
        "last_altered": None,
        "table_owner": "R",
        "is_dynamic": "YES",
    }

    record = sf.table_record("DB", row, None)

    assert record.kind == "table"
    assert record.description == "Fresh orders\n\n(Snowflake dynamic table)"
    mview = sf.table_record(
        "DB", {**row, "table_type": "MATERIALIZED VIEW", "is_dynamic": "NO"}, "SELECT 1"
    )
    assert (mview.kind, mview.definition, mview.row_estimate) == (
        "materialized_view",
        "SELECT 1",
        10,
    )
    external = sf.table_record(
        "DB", {**row, "table_type": "EXTERNAL TABLE", "is_dynamic": "NO"}, None
    )
    assert external.kind == "external_table"


# Form


def pem_key(passphrase: bytes | None = None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def form_data(**extra) -> dict:
    return {"account": "myorg-myaccount", "user": "CATALOG", "auth_method": "password", **extra}


def test_password_auth_needs_a_password():
    form = sf.SnowflakeForm(data=form_data())

    assert not form.is_valid()
    assert list(form.errors) == ["password"]
    assert sf.SnowflakeForm(data=form_data(password=PASSWORD)).is_valid()


def test_key_pair_auth_needs_a_pem_private_key():
    missing = sf.SnowflakeForm(data=form_data(auth_method="key_pair"))
    garbage = sf.SnowflakeForm(data=form_data(auth_method="key_pair", private_key="not a key"))

    assert not missing.is_valid() and list(missing.errors) == ["private_key"]
    assert not garbage.is_valid() and list(garbage.errors) == ["private_key"]
    assert "not a key" not in str(garbage["private_key"])
    assert "PEM private key" in garbage.errors["private_key"][0]


def test_an_encrypted_pem_key_with_its_passphrase_is_valid_and_never_rendered():
    pem = pem_key(b"open sesame")
    data = form_data(auth_method="key_pair", private_key=pem)

    wrong = sf.SnowflakeForm(data={**data, "private_key_passphrase": "wrong"})
    right = sf.SnowflakeForm(data={**data, "private_key_passphrase": "open sesame"})

    assert not wrong.is_valid() and list(wrong.errors) == ["private_key"]
    assert right.is_valid(), right.errors
    assert right.cleaned_data["database_include"] == []
    assert "PRIVATE KEY" not in str(right["private_key"])
    assert "open sesame" not in str(right["private_key_passphrase"])


def test_a_stored_secret_satisfies_the_form_when_editing():
    form = sf.SnowflakeForm(data=form_data())
    form.use_stored_config({"password": PASSWORD})

    assert form.is_valid(), form.errors


def test_key_pair_connects_with_der_bytes(monkeypatch):
    pem = pem_key(b"pw")
    seen = {}

    def connect(**kwargs):
        seen.update(kwargs)
        return RecordingConnection()

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    config = base_config(
        auth_method="key_pair", private_key=pem, private_key_passphrase="pw", role="CATALOG_RO"
    )
    del config["password"]

    with sf.connect(config):
        pass

    assert isinstance(seen["private_key"], bytes) and seen["private_key"][:1] == b"\x30"
    assert "password" not in seen
    assert seen["role"] == "CATALOG_RO" and "warehouse" not in seen


# Errors


def raising(exc: Exception):
    def connect(**kwargs):
        raise exc

    return connect


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (
            errors.DatabaseError(msg="Incorrect username or password was specified.", errno=390100),
            ConnectorError,
            "check the user name and password",
        ),
        (
            errors.DatabaseError(msg="JWT token is invalid.", errno=390144),
            ConnectorError,
            "RSA_PUBLIC_KEY",
        ),
        (
            errors.DatabaseError(
                msg="Role 'NOPE' specified in the connect string is not granted to this user.",
                errno=390189,
            ),
            ConnectorError,
            "the role and the warehouse",
        ),
        (
            errors.ForbiddenError(),
            ConnectorError,
            "network policy",
        ),
        (
            errors.OperationalError(
                msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting",
                errno=250001,
            ),
            TransientConnectorError,
            "check the account identifier",
        ),
        (
            errors.ServiceUnavailableError(),
            TransientConnectorError,
            "Could not connect",
        ),
    ],
)
def test_connect_errors_say_what_to_check_and_hold_no_secret(monkeypatch, exc, kind, says):
    monkeypatch.setattr(snowflake.connector, "connect", raising(exc))

    with pytest.raises(ConnectorError) as caught:
        sf.test_connection(base_config(password=PASSWORD))

    assert type(caught.value) is kind
    assert says in str(caught.value)
    assert "myorg-myaccount" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_driver_message_quoting_the_password_is_scrubbed(monkeypatch):
    exc = errors.DatabaseError(msg=f"odd failure near {PASSWORD}", errno=250001)
    monkeypatch.setattr(snowflake.connector, "connect", raising(exc))

    with pytest.raises(TransientConnectorError) as caught:
        sf.test_connection(base_config())

    assert PASSWORD not in str(caught.value)


def test_a_connection_lost_while_reading_is_transient(fake):
    with pytest.raises(TransientConnectorError):
        with sf.connect(base_config()):
            raise errors.OperationalError(msg="Connection reset", errno=250003)


# Registry and service


def test_the_registry_lists_snowflake_as_an_upper_case_warehouse():
    entry = registry_entry("snowflake")
    connector = get_connector("snowflake")

    assert entry.available, entry.unavailable_reason
    assert (connector.label, connector.category, connector.identifier_case) == (
        "Snowflake",
        "warehouse",
        "upper",
    )
    assert set(connector.secret_fields) == {"password", "private_key", "private_key_passphrase"}


@pytest.mark.django_db
def test_a_full_sync_through_the_service_fills_the_catalog(fake):
    from catalog.models import Column, Table
    from integrations.models import SyncRun
    from integrations.services import SyncOutcome, integration_create, sync_execute

    integration = integration_create(
        connector_key="snowflake",
        name="snowflake account",
        config={**base_config(), "database_include": "SHOP"},
        test_connection=False,
    )

    run = SyncRun.objects.create(integration=integration)
    assert sync_execute(run=run) is SyncOutcome.SUCCEEDED

    tables = Table.objects.filter(integration=integration)
    assert {(t.schema.database.name, t.schema.name, t.name, t.kind) for t in tables} == {
        ("SHOP", "SALES", "CUSTOMERS", "table"),
        ("SHOP", "SALES", "ORDERS", "table"),
        ("SHOP", "SALES", "MixedCase", "table"),
        ("SHOP", "SALES", "BIG_ORDERS", "view"),
        ("SHOP", "STAGING", "RAW_EVENTS", "table"),
    }
    assert tables.get(name="CUSTOMERS").description == "One row per customer"
    columns = Column.objects.filter(table__name="CUSTOMERS", table__integration=integration)
    assert [(c.name, c.data_type) for c in columns.order_by("ordinal")] == [
        ("ID", "NUMBER(38,0)"),
        ("EMAIL", "VARCHAR(16777216)"),
        ("COUNTRY", "VARCHAR(2)"),
        ("SCORE", "NUMBER(10,2)"),
    ]
    run.refresh_from_db()
    assert PASSWORD not in str(run.__dict__)


def test_unreadable_tables_skip_the_database_schemas_without_failing(fake, monkeypatch):
    real_read = sf.fetch_dicts

    def fetch_dicts(cur, sql):
        if "INFORMATION_SCHEMA.COLUMNS" in sql and '"SHOP"' in sql:
            raise errors.ProgrammingError(msg="Insufficient privileges", errno=3001)
        return real_read(cur, sql)

    monkeypatch.setattr(sf, "fetch_dicts", fetch_dicts)

    got = extract(base_config())

    assert set(got.schemas) == {("SHOP", "SALES"), ("SHOP", "STAGING"), ("ARCHIVE", "OLD")}
    assert {k[:2] for k in got.tables} == {("ARCHIVE", "OLD")}
    assert got.reporter.skipped_schemas == [("SHOP", "SALES"), ("SHOP", "STAGING")]
    assert any(
        w.startswith("Skipped database SHOP: its tables cannot be read: ")
        and "Insufficient privileges" in w
        for w in got.reporter.warnings
    )
