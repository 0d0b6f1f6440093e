"""MySQL and MariaDB: databases, tables, views, columns, keys and comments, read from
information_schema with PyMySQL (pure Python, so nothing to compile).

In MySQL a "schema" and a "database" are the same thing, and one server holds many of them.
The catalog has one more level, so the server itself becomes the one DatabaseRecord (named by
the `catalog_name` field, "mysql" unless set: a stable name, unlike the host, which may change
behind a load balancer) and each MySQL database becomes a SchemaRecord under it. A table
`shop.orders` is then `mysql.shop.orders` in the catalog, and foreign keys across MySQL
databases are references across schemas.

The queries are a fixed handful, whatever the number of tables: databases, tables, views,
columns, keys. Sequences (MariaDB) are not catalogued.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django import forms

from .base import (
    WAREHOUSE,
    ColumnRecord,
    ColumnRef,
    Connector,
    ConnectorError,
    DatabaseRecord,
    PatternListField,
    Record,
    Reporter,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
    name_included,
)

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3306
DEFAULT_CATALOG_NAME = "mysql"
# Tables whose columns make one progress step.
BATCH_SIZE = 1000
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")

TABLE_TYPES = {
    "BASE TABLE": "table",
    "VIEW": "view",
    # MariaDB's WITH SYSTEM VERSIONING tables: ordinary tables that keep their history.
    "SYSTEM VERSIONED": "table",
}

# Server error codes (mysqld_error.h, errmsg.h).
ER_ACCESS_DENIED = 1045
ER_DBACCESS_DENIED = 1044
ER_HOST_NOT_PRIVILEGED = 1130
ER_TABLEACCESS_DENIED = 1142
ER_SPECIFIC_ACCESS_DENIED = 1227
CR_CONNECTION_LOST = (2006, 2013)

# Old InnoDB versions append the free space to every table's comment ("InnoDB free: 4096 kB",
# or "my comment; InnoDB free: 4096 kB"): it is not the owner's text.
INNODB_FREE = re.compile(r"(?:^|;\s*)InnoDB free: \d+ [kKMG]B\s*$")


class MySQLForm(forms.Form):
    host = forms.CharField(max_length=255, help_text="Host name or IP address of the server.")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=DEFAULT_PORT)
    user = forms.CharField(max_length=80)
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=False
    )
    catalog_name = forms.CharField(
        max_length=255,
        required=False,
        initial=DEFAULT_CATALOG_NAME,
        help_text="The name of this server in the catalog; its MySQL databases appear as "
        "schemas under it.",
    )
    database_include = PatternListField(
        help_text="Databases to read, as glob patterns (shop*), one per line. Empty: all."
    )
    database_exclude = PatternListField(help_text="Databases to skip, as glob patterns.")

    def clean_catalog_name(self) -> str:
        return self.cleaned_data.get("catalog_name") or DEFAULT_CATALOG_NAME


def connection_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": config["host"],
        "port": int(config.get("port") or DEFAULT_PORT),
        "user": config["user"],
        "password": config.get("password") or "",
        "charset": "utf8mb4",
        "connect_timeout": int(config.get("connect_timeout") or 10),
        # The socket timeout bounds every query: MySQL and MariaDB name their statement
        # timeouts differently (max_execution_time in ms, max_statement_time in seconds).
        "read_timeout": int(config.get("read_timeout") or 300),
        # CREATE_TIME and UPDATE_TIME come back in the session time zone, without one.
        "init_command": "SET time_zone = '+00:00'",
        "program_name": "data-catalog",
    }


def _where(config: dict[str, Any]) -> str:
    return f"{config.get('host')}:{config.get('port') or DEFAULT_PORT}"


def describe_connect_error(exc: Exception, config: dict[str, Any]) -> ConnectorError:
    """Turn a driver error into a message an admin can act on (no secrets: the server's
    messages carry the user and host, never the password)."""
    where = _where(config)
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1] if len(exc.args) > 1 else exc).strip() or type(exc).__name__
    if code == ER_ACCESS_DENIED:
        return ConnectorError(
            f"Authentication failed for user '{config.get('user')}' on {where}: "
            "check the user name and password."
        )
    if code == ER_HOST_NOT_PRIVILEGED:
        return ConnectorError(
            f"{where} refuses connections from this machine for user '{config.get('user')}': "
            "grant the user access from this host."
        )
    return TransientConnectorError(
        f"Could not connect to {where} ({text}): check the host, the port and that the "
        "server accepts connections from this machine."
    )


@contextmanager
def connect(config: dict[str, Any]):
    """A read-only connection, with every driver error turned into a ConnectorError."""
    import pymysql

    try:
        conn = pymysql.connect(**connection_kwargs(config))
    except pymysql.MySQLError as exc:
        raise describe_connect_error(exc, config) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
        yield conn
    except pymysql.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code in (ER_DBACCESS_DENIED, ER_TABLEACCESS_DENIED, ER_SPECIFIC_ACCESS_DENIED):
            raise ConnectorError(
                f"The user '{config.get('user')}' lacks a privilege the catalog needs: {exc}"
            ) from None
        raise TransientConnectorError(
            f"The connection to {_where(config)} was lost while reading the catalog: {exc}"
        ) from None
    except pymysql.MySQLError as exc:
        raise ConnectorError(f"Reading the catalog failed: {exc}") from None
    finally:
        conn.close()


def server_version(conn) -> str:
    """ "MariaDB 10.11.19" or "MySQL 8.0.36"."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{product} {version.split('-')[0]}"


def test_connection(config: dict[str, Any]) -> str:
    with connect(config) as conn:
        version = server_version(conn)
        schemas = list_schemas(conn, config)
    return f"Connected to {version}; {len(schemas)} databases readable."


TABLES_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_COMMENT, TABLE_ROWS,
       COALESCE(UPDATE_TIME, CREATE_TIME)
FROM information_schema.TABLES
WHERE TABLE_SCHEMA IN %(schemas)s
ORDER BY TABLE_SCHEMA, TABLE_NAME
"""

VIEWS_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION
FROM information_schema.VIEWS
WHERE TABLE_SCHEMA IN %(schemas)s
"""

COLUMNS_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE,
       COLUMN_DEFAULT, COLUMN_COMMENT
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA IN %(schemas)s
ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""

# COLUMN_KEY = 'PRI' would also mark a UNIQUE NOT NULL key on a table without a primary key.
KEYS_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, CONSTRAINT_NAME,
       REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA IN %(schemas)s
  AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)
ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION
"""


def list_schemas(conn, config: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, comment) of the databases the user may see, patterns applied."""
    include = config.get("database_include") or []
    exclude = config.get("database_exclude") or []
    with conn.cursor() as cur:
        # SCHEMA_COMMENT exists on MariaDB 10.5+ only.
        cur.execute("SELECT * FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        names = [d[0].upper() for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return [
        (row["SCHEMA_NAME"], row.get("SCHEMA_COMMENT") or "")
        for row in rows
        if row["SCHEMA_NAME"].lower() not in SYSTEM_SCHEMAS
        and name_included(row["SCHEMA_NAME"], include=include, exclude=exclude)
    ]


def table_description(table_type: str, comment: str | None) -> str:
    if table_type == "VIEW":
        # Views report "VIEW", or the error that makes them unreadable: neither is a description.
        return ""
    return INNODB_FREE.sub("", comment or "").strip()


def column_default(value: Any) -> str:
    # MariaDB 10.2.7+ reports the implicit default of a nullable column as the text NULL;
    # MySQL reports SQL NULL. Either way there is no default, as PostgreSQL would say.
    if value is None or value == "NULL":
        return ""
    return str(value)


def as_utc(value: datetime | None) -> datetime | None:
    # The session runs in UTC (see connection_kwargs); the driver returns naive datetimes.
    return value.replace(tzinfo=UTC) if value is not None else None


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator[Record]:
    database = config.get("catalog_name") or DEFAULT_CATALOG_NAME
    with connect(config) as conn:
        yield DatabaseRecord(name=database)
        yield from extract_server(conn, config, database=database, reporter=reporter)


def extract_server(
    conn, config: dict[str, Any], *, database: str, reporter: Reporter
) -> Iterator[Record]:
    schemas = list_schemas(conn, config)
    for name, description in schemas:
        yield SchemaRecord(database=database, name=name, description=description)
    if not schemas:
        reporter.progress(0, 0)
        return
    params = {"schemas": tuple(name for name, _ in schemas)}

    with conn.cursor() as cur:
        cur.execute(VIEWS_SQL, params)
        definitions = {(s, t): d or "" for s, t, d in cur.fetchall()}
        cur.execute(TABLES_SQL, params)
        tables = [row for row in cur.fetchall() if row[2] in TABLE_TYPES]

    reporter.progress(0, len(tables))
    for schema, name, table_type, comment, rows, altered in tables:
        if table_type == "VIEW" and comment and comment != "VIEW":
            reporter.warning(f"View {schema}.{name} cannot be read: {comment}")
        yield TableRecord(
            database=database,
            schema=schema,
            name=name,
            kind=TABLE_TYPES[table_type],
            description=table_description(table_type, comment),
            row_estimate=None if table_type == "VIEW" else rows,
            last_altered=as_utc(altered),
            definition=definitions.get((schema, name), ""),
        )

    yield from _columns(
        conn, params, {(s, n) for s, n, *_ in tables}, database=database, reporter=reporter
    )
    if tables:
        reporter.progress(len(tables), len(tables))


def _columns(
    conn, params: dict, tables: set[tuple[str, str]], *, database: str, reporter: Reporter
) -> Iterator[ColumnRecord]:
    primary: set[tuple[str, str, str]] = set()
    foreign: dict[tuple[str, str, str], ColumnRef] = {}
    with conn.cursor() as cur:
        cur.execute(KEYS_SQL, params)
        for schema, table, column, constraint, ref_schema, ref_table, ref_column in cur:
            if constraint == "PRIMARY":
                primary.add((schema, table, column))
            elif ref_table is not None:
                # A column in several foreign keys points at the first one by name.
                foreign.setdefault(
                    (schema, table, column), ColumnRef(database, ref_schema, ref_table, ref_column)
                )

        cur.execute(COLUMNS_SQL, params)
        grouped = itertools.groupby(cur.fetchall(), key=lambda row: (row[0], row[1]))
        done = 0
        for (schema, table), rows in grouped:
            if (schema, table) not in tables:
                continue  # a sequence, or a table created since the tables were read
            for _, _, name, ordinal, data_type, nullable, default, description in rows:
                key = (schema, table, name)
                yield ColumnRecord(
                    database=database,
                    schema=schema,
                    table=table,
                    name=name,
                    data_type=data_type,
                    ordinal=ordinal,
                    nullable=nullable == "YES",
                    default=column_default(default),
                    description=description or "",
                    is_primary_key=key in primary,
                    foreign_key=foreign.get(key),
                )
            done += 1
            if done % BATCH_SIZE == 0 and done < len(tables):
                reporter.progress(done, len(tables))


CONNECTOR = Connector(
    single_database=True,
    key="mysql",
    label="MySQL / MariaDB",
    category=WAREHOUSE,
    description="Databases, tables, views, columns, keys and comments from a MySQL or "
    "MariaDB server.",
    aliases=("mysql", "mariadb", "maria", "aurora"),
    form=MySQLForm,
    secret_fields=("password",),
    destination_fields=("host", "port"),
    extract=extract,
    test_connection=test_connection,
    driver="pymysql",
    driver_package="PyMySQL",
    # On Linux with lower_case_table_names=0 (the default) table and database names are case
    # sensitive, as they are files; column names never are. Tables are what dbt matches on.
    identifier_case="sensitive",
    logo="img/connectors/mysql.svg",
)
