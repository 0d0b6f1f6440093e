"""The MySQL / MariaDB connector against the real server (127.0.0.1:3306, root without a
password): what `extract` yields for DDL we create in fresh databases, what `test_connection`
says, how connect errors are classified, and a full sync through the service."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pymysql
import pytest

from integrations.connectors import get_connector, mysql, registry_entry
from integrations.connectors.base import (
    ColumnRef,
    ConnectorError,
    DatabaseRecord,
    SchemaRecord,
    TransientConnectorError,
)
from tests.support.postgres import free_port
from tests.support.reporting import Extracted, RecordingReporter, extract_with

HOST, PORT = "127.0.0.1", 3306


def root_connection():
    return pymysql.connect(host=HOST, port=PORT, user="root", password="", autocommit=True)


def run_sql(*statements: str) -> None:
    with root_connection() as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


@pytest.fixture(scope="module", autouse=True)
def mysql_server():
    try:
        root_connection().close()
    except pymysql.MySQLError as exc:
        pytest.fail(f"MariaDB/MySQL must run on {HOST}:{PORT} for these tests: {exc}")


@pytest.fixture
def make_database():
    """Creates databases with random names; drops them after the test."""
    created: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"myconn_{secrets.token_hex(4)}{suffix}"
        run_sql(f"CREATE DATABASE `{name}`")
        created.append(name)
        return name

    yield make
    run_sql("SET FOREIGN_KEY_CHECKS = 0", *(f"DROP DATABASE IF EXISTS `{n}`" for n in created))


@pytest.fixture
def make_user():
    """Creates a user with a password; drops it after the test."""
    created: list[str] = []

    def make(password: str, *grants: str) -> str:
        user = f"myconn_{secrets.token_hex(4)}"
        run_sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        created.append(user)
        run_sql(*(f"GRANT {grant} TO '{user}'@'%'" for grant in grants))
        return user

    yield make
    run_sql(*(f"DROP USER IF EXISTS '{u}'@'%'" for u in created))


def base_config(**extra) -> dict:
    return {"host": HOST, "port": PORT, "user": "root", "password": "", **extra}


def extract(config: dict) -> Extracted:
    return extract_with(mysql, config)


def shop_ddl(shop: str, ref: str) -> list[str]:
    return [
        f"""CREATE TABLE `{ref}`.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(80))
            COMMENT = 'ISO 3166 countries'""",
        f"""CREATE TABLE `{shop}`.customers (
            id INT PRIMARY KEY,
            email VARCHAR(200) NOT NULL COMMENT 'Lower-cased',
            country CHAR(2),
            FOREIGN KEY (country) REFERENCES `{ref}`.countries (code))
            COMMENT = 'One row per customer.\\nDeduplicated on email.'""",
        f"""CREATE TABLE `{shop}`.orders (
            id INT PRIMARY KEY,
            customer_id INT NOT NULL,
            created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
            FOREIGN KEY (customer_id) REFERENCES `{shop}`.customers (id))""",
        f"""CREATE TABLE `{shop}`.order_lines (
            order_id INT NOT NULL,
            line_no SMALLINT NOT NULL,
            sku VARCHAR(40) NOT NULL DEFAULT 'unknown',
            quantity INT DEFAULT 1,
            price DECIMAL(10, 2),
            note TEXT,
            PRIMARY KEY (order_id, line_no),
            CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES `{shop}`.orders (id))""",
        f"""CREATE VIEW `{shop}`.big_orders AS
            SELECT o.id, o.customer_id FROM `{shop}`.orders o WHERE o.id > 2""",
        f"INSERT INTO `{ref}`.countries VALUES ('NL', 'Netherlands'), ('FR', 'France')",
        f"INSERT INTO `{shop}`.customers VALUES (1, 'a@x', 'NL'), (2, 'b@x', 'FR')",
        f"INSERT INTO `{shop}`.orders (id, customer_id) VALUES (1, 1), (2, 1), (3, 2), (4, 2)",
        f"ANALYZE TABLE `{shop}`.customers, `{shop}`.orders, `{ref}`.countries",
    ]


@pytest.fixture
def shop(make_database):
    """Two fresh databases, a shop and the reference data it points into; yields their names."""
    shop, ref = make_database(), make_database("_ref")
    run_sql(*shop_ddl(shop, ref))
    return shop, ref


@pytest.fixture
def shop_config(shop) -> dict:
    return base_config(database_include=list(shop))


def test_the_server_is_one_database_and_each_mysql_database_a_schema(shop, shop_config):
    got = extract(shop_config)

    assert got.databases == [DatabaseRecord(name="mysql")]
    assert set(got.schemas) == set(shop)
    assert all(s.database == "mysql" for s in got.schemas.values())
    assert {t.database for t in got.tables.values()} == {"mysql"}


def test_catalog_name_names_the_database_and_the_references_into_it(shop, shop_config):
    got = extract({**shop_config, "catalog_name": "orders-db"})

    assert got.databases == [DatabaseRecord(name="orders-db")]
    assert got.columns[shop[0], "orders", "customer_id"].foreign_key == ColumnRef(
        "orders-db", shop[0], "customers", "id"
    )


def test_tables_and_views_carry_kind_description_rows_and_last_altered(shop, shop_config):
    name, ref = shop
    before = datetime.now(UTC) - timedelta(minutes=5)

    got = extract(shop_config)

    assert set(got.tables) == {
        (name, "customers"),
        (name, "orders"),
        (name, "order_lines"),
        (name, "big_orders"),
        (ref, "countries"),
    }
    customers = got.tables[name, "customers"]
    assert (customers.kind, customers.row_estimate) == ("table", 2)
    assert customers.description == "One row per customer.\nDeduplicated on email."
    assert got.tables[ref, "countries"].description == "ISO 3166 countries"
    assert got.tables[name, "orders"].row_estimate == 4
    assert got.tables[name, "orders"].description == ""
    assert got.tables[name, "orders"].definition == ""
    altered = got.tables[name, "orders"].last_altered
    assert altered.tzinfo is not None and before < altered <= datetime.now(UTC) + timedelta(
        seconds=5
    )


def test_view_has_its_definition_no_rows_and_no_view_comment(shop, shop_config):
    got = extract(shop_config)

    view = got.tables[shop[0], "big_orders"]
    assert view.kind == "view"
    assert view.row_estimate is None
    assert view.description == ""  # the server says "VIEW"
    assert "where" in view.definition.lower() and "> 2" in view.definition
    assert [(c.name, c.data_type) for c in got.columns_of(shop[0], "big_orders")] == [
        ("id", "int(11)"),
        ("customer_id", "int(11)"),
    ]
    assert got.reporter.warnings == []


def test_columns_carry_types_defaults_not_null_comments_and_composite_primary_key(
    shop, shop_config
):
    got = extract(shop_config)

    lines = got.columns_of(shop[0], "order_lines")
    assert [(c.name, c.ordinal, c.data_type, c.nullable, c.is_primary_key) for c in lines] == [
        ("order_id", 1, "int(11)", False, True),
        ("line_no", 2, "smallint(6)", False, True),
        ("sku", 3, "varchar(40)", False, False),
        ("quantity", 4, "int(11)", True, False),
        ("price", 5, "decimal(10,2)", True, False),
        ("note", 6, "text", True, False),
    ]
    defaults = {c.name: c.default for c in lines}
    # Vendor spelling: MariaDB quotes string defaults, MySQL 8 does not.
    assert defaults["sku"] in ("'unknown'", "unknown")
    assert defaults["quantity"] == "1"
    assert defaults["price"] == defaults["note"] == defaults["order_id"] == ""
    created_at = got.columns[shop[0], "orders", "created_at"]
    assert created_at.default.lower().startswith("current_timestamp")
    email = got.columns[shop[0], "customers", "email"]
    assert (email.description, email.nullable) == ("Lower-cased", False)
    assert got.columns[shop[0], "customers", "id"].description == ""


def test_foreign_keys_point_within_and_across_mysql_databases(shop, shop_config):
    name, ref = shop

    got = extract(shop_config)

    assert got.columns[name, "order_lines", "order_id"].foreign_key == ColumnRef(
        "mysql", name, "orders", "id"
    )
    assert got.columns[name, "orders", "customer_id"].foreign_key == ColumnRef(
        "mysql", name, "customers", "id"
    )
    assert got.columns[name, "customers", "country"].foreign_key == ColumnRef(
        "mysql", ref, "countries", "code"
    )
    assert got.columns[name, "order_lines", "line_no"].foreign_key is None
    assert got.columns[ref, "countries", "code"].is_primary_key


def test_foreign_key_into_an_excluded_database_is_still_reported(shop, shop_config):
    name, ref = shop

    got = extract({**shop_config, "database_exclude": [ref]})

    assert set(got.schemas) == {name}
    assert got.columns[name, "customers", "country"].foreign_key == ColumnRef(
        "mysql", ref, "countries", "code"
    )


def test_unique_not_null_key_is_not_taken_for_a_primary_key(make_database):
    name = make_database()
    # The server reports COLUMN_KEY = 'PRI' for `code`: it stands in for the missing key.
    run_sql(f"CREATE TABLE `{name}`.tags (code VARCHAR(10) NOT NULL UNIQUE, label TEXT)")

    got = extract(base_config(database_include=[name]))

    assert [c.is_primary_key for c in got.columns_of(name, "tags")] == [False, False]


def test_table_and_database_names_keep_their_case(make_database):
    name = make_database("_Mixed")
    run_sql(
        f"CREATE TABLE `{name}`.`MixedCase` (`CamelId` INT PRIMARY KEY, `Has Space` TEXT)",
        f"CREATE TABLE `{name}`.lowered (`mixedRef` INT,"
        f" FOREIGN KEY (`mixedRef`) REFERENCES `{name}`.`MixedCase` (`CamelId`))",
    )

    got = extract(base_config(database_include=[name]))

    assert set(got.schemas) == {name}
    assert [c.name for c in got.columns_of(name, "MixedCase")] == ["CamelId", "Has Space"]
    assert got.columns[name, "lowered", "mixedRef"].foreign_key == ColumnRef(
        "mysql", name, "MixedCase", "CamelId"
    )


def test_system_versioned_table_is_a_table(make_database):
    name = make_database()
    with root_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        if "mariadb" not in cur.fetchone()[0].lower():
            pytest.skip("system versioning is MariaDB's")
        cur.execute(f"CREATE TABLE `{name}`.prices (id INT PRIMARY KEY) WITH SYSTEM VERSIONING")

    got = extract(base_config(database_include=[name]))

    assert got.tables[name, "prices"].kind == "table"
    assert [c.name for c in got.columns_of(name, "prices")] == ["id"]


def test_broken_view_is_yielded_with_a_warning_and_no_description(make_database):
    name = make_database()
    run_sql(
        f"CREATE TABLE `{name}`.gone (id INT)",
        f"CREATE VIEW `{name}`.orphan AS SELECT id FROM `{name}`.gone",
        f"DROP TABLE `{name}`.gone",
    )

    got = extract(base_config(database_include=[name]))

    orphan = got.tables[name, "orphan"]
    assert (orphan.kind, orphan.description) == ("view", "")
    assert len(got.reporter.warnings) == 1
    assert f"View {name}.orphan cannot be read" in got.reporter.warnings[0]
    assert got.columns_of(name, "orphan") == []
    assert got.reporter.progress_calls[-1] == (1, 1)


@pytest.mark.parametrize(
    "comment, expected",
    [
        ("InnoDB free: 4096 kB", ""),
        ("Orders; InnoDB free: 11264 kB", "Orders"),
        ("Free text about InnoDB", "Free text about InnoDB"),
        (None, ""),
    ],
)
def test_old_innodb_free_space_is_not_a_description(comment, expected):
    assert mysql.table_description("BASE TABLE", comment) == expected


@pytest.fixture
def patterned(make_database):
    """Three databases sharing a random prefix; yields the prefix."""
    first = make_database("_sales")
    prefix = first.removesuffix("_sales")
    for suffix in ("_sales_archive", "_staging"):
        name = prefix + suffix
        run_sql(f"CREATE DATABASE `{name}`")
    run_sql(
        *(
            f"CREATE TABLE `{prefix}{suffix}`.orders (id INT)"
            for suffix in ("_sales", "_sales_archive", "_staging")
        )
    )
    yield prefix
    run_sql(f"DROP DATABASE `{prefix}_sales_archive`", f"DROP DATABASE `{prefix}_staging`")


@pytest.mark.parametrize(
    "include, exclude, expected",
    [
        (["{p}_*"], [], {"sales", "sales_archive", "staging"}),
        (["{p}_sales*"], [], {"sales", "sales_archive"}),
        (["{P}_SALES*", "{p}_staging"], ["*_archive"], {"sales", "staging"}),
        (["{p}_*"], ["*_sales*"], {"staging"}),
        (["{p}_sales"], ["{p}_sales"], set()),
    ],
)
def test_database_patterns_select_databases_and_exclude_wins(patterned, include, exclude, expected):
    def fill(patterns):
        return [p.format(p=patterned, P=patterned.upper()) for p in patterns]

    got = extract(base_config(database_include=fill(include), database_exclude=fill(exclude)))

    wanted = {f"{patterned}_{suffix}" for suffix in expected}
    assert set(got.schemas) == wanted
    assert {schema for schema, _ in got.tables} == wanted
    assert {schema for schema, _, _ in got.columns} == wanted
    assert got.reporter.progress_calls[-1] == (len(expected), len(expected))


def test_system_databases_are_never_yielded(make_database):
    name = make_database()

    got = extract(
        base_config(
            database_include=[name, "mysql", "information_schema", "performance_schema", "sys"]
        )
    )

    assert set(got.schemas) == {name}


def test_progress_counts_tables_and_ends_at_done_equals_total(make_database, monkeypatch):
    monkeypatch.setattr(mysql, "BATCH_SIZE", 3)
    name = make_database()
    run_sql(
        *(f"CREATE TABLE `{name}`.t{i} (id INT, label TEXT)" for i in range(6)),
        f"CREATE VIEW `{name}`.v AS SELECT 1 AS one",
    )

    got = extract(base_config(database_include=[name]))

    assert got.reporter.progress_calls == [(0, 7), (3, 7), (6, 7), (7, 7)]
    assert len(got.columns) == 6 * 2 + 1
    assert got.reporter.warnings == []


def test_empty_database_reports_zero_of_zero(make_database):
    name = make_database()

    got = extract(base_config(database_include=[name]))

    assert got.reporter.progress_calls == [(0, 0)]
    assert [type(r) for r in got.records] == [DatabaseRecord, SchemaRecord]


def test_no_matching_database_yields_only_the_server(make_database):
    got = extract(base_config(database_include=["no_such_database_anywhere"]))

    assert got.records == [DatabaseRecord(name="mysql")]
    assert got.reporter.progress_calls == [(0, 0)]


def test_tables_come_before_their_columns(make_database):
    name = make_database()
    run_sql(f"CREATE TABLE `{name}`.a (id INT)", f"CREATE TABLE `{name}`.b (id INT)")

    kinds = [type(r).__name__ for r in extract(base_config(database_include=[name])).records]

    assert kinds == [
        "DatabaseRecord",
        "SchemaRecord",
        "TableRecord",
        "TableRecord",
        "ColumnRecord",
        "ColumnRecord",
    ]


def test_extract_runs_a_fixed_number_of_queries_whatever_the_number_of_tables(
    make_database, monkeypatch
):
    name = make_database()
    run_sql(*(f"CREATE TABLE `{name}`.t{i} (id INT PRIMARY KEY)" for i in range(20)))
    executed: list[str] = []
    original = pymysql.cursors.Cursor.execute

    def counting(self, query, args=None):
        executed.append(query)
        return original(self, query, args)

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", counting)

    got = extract(base_config(database_include=[name]))

    assert len(got.tables) == 20
    # Session time zone, read-only session, databases, views, tables, keys, columns.
    assert len(executed) == 7


def test_test_connection_names_the_server_and_counts_readable_databases(shop):
    with root_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    product = "MariaDB" if "mariadb" in version.lower() else "MySQL"

    message = mysql.test_connection(base_config(database_include=list(shop)))

    assert message == f"Connected to {product} {version.split('-')[0]}; 2 databases readable."


def test_a_user_sees_only_the_databases_it_was_granted(shop, make_user):
    user = make_user("Corr3ct-pw", f"SELECT ON `{shop[0]}`.* ")

    config = base_config(user=user, password="Corr3ct-pw", database_include=list(shop))
    message = mysql.test_connection(config)
    got = extract(config)

    assert message.endswith("; 1 databases readable.")
    assert set(got.schemas) == {shop[0]}
    assert got.columns[shop[0], "order_lines", "order_id"].is_primary_key


def test_wrong_password_is_a_permanent_error_without_the_password(make_user):
    user = make_user("Right-pw-123")

    with pytest.raises(ConnectorError) as raised:
        mysql.test_connection(base_config(user=user, password="Wr0ng-S3cret"))

    assert not isinstance(raised.value, TransientConnectorError)
    assert str(raised.value) == (
        f"Authentication failed for user '{user}' on {HOST}:{PORT}: "
        "check the user name and password."
    )
    assert "Wr0ng-S3cret" not in str(raised.value)
    assert "Right-pw-123" not in str(raised.value)


def test_closed_port_is_a_transient_error():
    port = free_port()  # nothing listens there

    with pytest.raises(TransientConnectorError) as raised:
        list(mysql.extract(base_config(port=port, password="S3cret"), reporter=RecordingReporter()))

    assert f"Could not connect to 127.0.0.1:{port}" in str(raised.value)
    assert "S3cret" not in str(raised.value)


def test_extract_connects_only_once_it_is_iterated():
    records = mysql.extract(base_config(port=free_port()), reporter=RecordingReporter())

    with pytest.raises(TransientConnectorError):
        next(records)


@pytest.mark.parametrize(
    "exc, expected_type, expected_text",
    [
        (
            pymysql.err.OperationalError(
                1045, "Access denied for user 'bob'@'10.0.0.5' (using password: YES)"
            ),
            ConnectorError,
            "Authentication failed for user 'bob' on h:3307",
        ),
        (
            pymysql.err.OperationalError(
                1130, "Host '10.0.0.5' is not allowed to connect to this MariaDB server"
            ),
            ConnectorError,
            "h:3307 refuses connections from this machine for user 'bob'",
        ),
        (
            pymysql.err.OperationalError(
                2003, "Can't connect to MySQL server on 'h' ([Errno -2] Name or service not known)"
            ),
            TransientConnectorError,
            "Could not connect to h:3307",
        ),
        (
            pymysql.err.OperationalError(
                2003, "Can't connect to MySQL server on 'h' ([Errno 111] Connection refused)"
            ),
            TransientConnectorError,
            "Could not connect to h:3307",
        ),
    ],
)
def test_connect_errors_are_classified_by_their_code(exc, expected_type, expected_text):
    config = {"host": "h", "port": 3307, "user": "bob", "password": "S3cret-pw"}

    error = mysql.describe_connect_error(exc, config)

    assert type(error) is expected_type
    assert expected_text in str(error)
    assert "S3cret-pw" not in str(error)


def test_form_cleans_patterns_to_lists_and_defaults_the_catalog_name():
    form = mysql.MySQLForm(
        data={
            "host": "db",
            "port": "3306",
            "user": "u",
            "password": "p",
            "database_include": "shop*, crm\nops",
        }
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["database_include"] == ["shop*", "crm", "ops"]
    assert form.cleaned_data["database_exclude"] == []
    assert form.cleaned_data["catalog_name"] == "mysql"
    assert 'value="p"' not in str(form["password"])


def test_the_registry_offers_the_connector_with_its_driver():
    entry = registry_entry("mysql")

    assert entry.available, entry.unavailable_reason
    connector = get_connector("mysql")
    assert (connector.label, connector.identifier_case) == ("MySQL / MariaDB", "sensitive")
    assert "mariadb" in connector.aliases and connector.secret_fields == ("password",)


@pytest.mark.django_db
def test_a_full_sync_through_the_service_fills_the_catalog(shop):
    from catalog.models import Column, Table
    from integrations.models import SyncRun
    from integrations.services import SyncOutcome, integration_create, sync_execute

    name, ref = shop
    integration = integration_create(
        connector_key="mysql",
        name="shop server",
        config={
            "host": HOST,
            "port": PORT,
            "user": "root",
            "password": "",
            "database_include": f"{name}\n{ref}",
        },
    )

    assert sync_execute(run=SyncRun.objects.create(integration=integration)) is (
        SyncOutcome.SUCCEEDED
    )

    tables = Table.objects.filter(integration=integration)
    assert {(t.schema.database.name, t.schema.name, t.name, t.kind) for t in tables} == {
        ("mysql", name, "customers", "table"),
        ("mysql", name, "orders", "table"),
        ("mysql", name, "order_lines", "table"),
        ("mysql", name, "big_orders", "view"),
        ("mysql", ref, "countries", "table"),
    }
    lines = Column.objects.filter(table__schema__name=name, table__name="order_lines")
    assert [(c.name, c.is_primary_key) for c in lines.order_by("ordinal")][:3] == [
        ("order_id", True),
        ("line_no", True),
        ("sku", False),
    ]
    country = Column.objects.get(integration=integration, table__name="customers", name="country")
    assert country.foreign_key is not None
    assert (
        country.foreign_key.table.schema.name,
        country.foreign_key.table.name,
        country.foreign_key.name,
    ) == (ref, "countries", "code")
    run = SyncRun.objects.get(integration=integration)
    assert (run.status, run.progress_done, run.progress_total) == ("succeeded", 5, 5)


def test_the_session_runs_in_utc_so_times_need_no_server_time_zone():
    with mysql.connect(base_config()) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@session.time_zone")
        assert cur.fetchone()[0] == "+00:00"
