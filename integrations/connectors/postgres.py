"""PostgreSQL: schemas, tables, views, materialized views, partitioned tables (parents only),
columns, keys, COMMENTs and row estimates, read from pg_catalog in a read-only transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
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

# Tables per round trip for columns and keys: bounds memory and gives progress steps.
BATCH_SIZE = 1000
SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# In milliseconds without a unit: Amazon Redshift (PostgreSQL 8.0 underneath) reuses connect()
# and documents statement_timeout only in that form.
STATEMENT_TIMEOUT_SQL = "SET statement_timeout = 300000"

RELKINDS = {
    "r": "table",
    "v": "view",
    "m": "materialized_view",
    "p": "partitioned_table",
    "f": "foreign_table",
}


class PostgresForm(forms.Form):
    host = forms.CharField(max_length=255, help_text="Host name or IP address of the server.")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=5432)
    database = forms.CharField(max_length=63)
    user = forms.CharField(max_length=63)
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=False
    )
    sslmode = forms.ChoiceField(
        choices=[(m, m) for m in SSL_MODES], initial="prefer", label="SSL mode"
    )
    schema_include = PatternListField(
        help_text="Schemas to read, as glob patterns (analytics*), one per line. Empty: all."
    )
    schema_exclude = PatternListField(help_text="Schemas to skip, as glob patterns.")


def connection_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": config["host"],
        "port": int(config.get("port") or 5432),
        "dbname": config["database"],
        "user": config["user"],
        "password": config.get("password") or None,
        "sslmode": config.get("sslmode") or "prefer",
        "connect_timeout": int(config.get("connect_timeout") or 10),
        "application_name": "data-catalog",
    }


def describe_connect_error(exc: Exception, config: dict[str, Any]) -> ConnectorError:
    """Turn a driver error into a message an admin can act on (no secrets: the
    driver's messages carry host, port, user and database, never the password).

    Refusals by the server (credentials, privileges, names) are permanent: retrying cannot
    fix them. libpq gives no SQLSTATE for a refused connection, only the server's message,
    so both are checked."""
    where = f"{config.get('host')}:{config.get('port') or 5432}"
    user, database = config.get("user"), config.get("database")
    sqlstate = getattr(exc, "sqlstate", None)
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    lowered = str(exc).lower()
    if (
        sqlstate == "28P01"
        or "password authentication failed" in lowered
        or "no password supplied" in lowered
    ):
        return ConnectorError(
            f"Authentication failed for user '{user}' on {where}: check the user name and password."
        )
    if sqlstate == "42501" or "permission denied for database" in lowered:
        return ConnectorError(
            f"The user '{user}' may not connect to database '{database}' on {where}: "
            f'grant it the CONNECT privilege (GRANT CONNECT ON DATABASE "{database}" TO "{user}").'
        )
    if sqlstate == "28000" or _refused_authorization(lowered):
        return ConnectorError(
            f"The server at {where} refused user '{user}' ({_server_reason(exc)}): check that "
            "the role exists, may log in and is allowed from this machine (pg_hba.conf)."
        )
    if sqlstate == "3D000" or ("database" in lowered and "does not exist" in lowered):
        return ConnectorError(
            f"Database '{database}' does not exist on {where}: check the database name."
        )
    # "Temporary failure in name resolution" (EAI_AGAIN): the resolver was down, not the name
    # wrong, so it falls through to the retried error.
    if ("could not translate host name" in lowered or "name or service not known" in lowered) and (
        "temporary failure" not in lowered
    ):
        return ConnectorError(f"Unknown host '{config.get('host')}': check the host name.")
    if "ssl" in lowered and ("required" in lowered or "unsupported" in lowered):
        return ConnectorError(f"SSL negotiation with {where} failed ({text}): check the SSL mode.")
    return TransientConnectorError(
        f"Could not connect to {where} ({text}): check the host, the port and that the "
        "server accepts connections from this machine."
    )


def _refused_authorization(lowered: str) -> bool:
    """The server's words for invalid_authorization_specification (28000) at connect time."""
    return (
        "no pg_hba.conf entry" in lowered
        or "is not permitted to log in" in lowered
        or ('role "' in lowered and "does not exist" in lowered)
    )


def _server_reason(exc: Exception) -> str:
    """The server's FATAL line without libpq's "connection to server ... failed:" prefix."""
    for line in str(exc).splitlines():
        if "FATAL:" in line:
            return line.split("FATAL:", 1)[1].strip()
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


@contextmanager
def connect(config: dict[str, Any]):
    """A read-only connection, with every driver error turned into a ConnectorError."""
    import psycopg

    try:
        conn = psycopg.connect(**connection_kwargs(config))
    except psycopg.Error as exc:
        raise describe_connect_error(exc, config) from None
    try:
        conn.read_only = True
        with conn:
            with conn.cursor() as cur:
                cur.execute(STATEMENT_TIMEOUT_SQL)
            yield conn
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ConnectorError(
            f"The user '{config.get('user')}' lacks a privilege the catalog needs: {exc}"
        ) from None
    except psycopg.OperationalError as exc:
        raise TransientConnectorError(
            f"The connection was lost while reading the catalog: {exc}"
        ) from None
    except psycopg.Error as exc:
        raise ConnectorError(f"Reading the catalog failed: {exc}") from None
    finally:
        conn.close()


def test_connection(config: dict[str, Any]) -> str:
    with connect(config) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        schemas = list_schemas(conn, config)
    return f"Connected to PostgreSQL {version.split()[0]}; {len(schemas)} schemas readable."


SCHEMAS_SQL = """
SELECT n.nspname, COALESCE(obj_description(n.oid, 'pg_namespace'), ''), pg_get_userbyid(n.nspowner)
FROM pg_namespace n
WHERE n.nspname <> ALL(%(system)s)
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
ORDER BY n.nspname
"""

RELATIONS_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind,
       COALESCE(obj_description(c.oid, 'pg_class'), ''),
       pg_get_userbyid(c.relowner),
       CASE WHEN c.relkind = 'p' THEN (
                SELECT sum(GREATEST(x.reltuples, 0))::bigint
                FROM pg_partition_tree(c.oid) t JOIN pg_class x ON x.oid = t.relid
                WHERE t.isleaf)
            WHEN c.relkind IN ('r', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::bigint
       END,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND NOT c.relispartition
  AND n.nspname = ANY(%(schemas)s)
ORDER BY n.nspname, c.relname
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''),
       COALESCE(col_description(a.attrelid, a.attnum), '')
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

KEYS_SQL = """
SELECT con.contype, con.conrelid, k.attnum, rn.nspname, rc.relname, ra.attname
FROM pg_constraint con
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(attnum, fattnum)
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
LEFT JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.fattnum
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'f')
  -- A key referencing a partitioned table has a child constraint per partition; keep the parent.
  AND con.conparentid = 0
ORDER BY con.contype DESC, con.conname
"""


def list_schemas(conn, config: dict[str, Any]) -> list[tuple[str, str, str]]:
    include = config.get("schema_include") or []
    exclude = config.get("schema_exclude") or []
    rows = conn.execute(SCHEMAS_SQL, {"system": list(SYSTEM_SCHEMAS)}).fetchall()
    return [row for row in rows if name_included(row[0], include=include, exclude=exclude)]


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator[Record]:
    with connect(config) as conn:
        database = conn.execute(
            "SELECT d.datname, COALESCE(shobj_description(d.oid, 'pg_database'), '') "
            "FROM pg_database d WHERE d.datname = current_database()"
        ).fetchone()
        yield DatabaseRecord(name=database[0], description=database[1])
        yield from extract_database(conn, config, database=database[0], reporter=reporter)


def extract_database(
    conn, config: dict[str, Any], *, database: str, reporter: Reporter
) -> Iterator[Record]:
    schemas = list_schemas(conn, config)
    for name, description, owner in schemas:
        yield SchemaRecord(database=database, name=name, description=description, owner=owner)

    relations = conn.execute(RELATIONS_SQL, {"schemas": [s[0] for s in schemas]}).fetchall()
    reporter.progress(0, len(relations))
    by_oid: dict[int, tuple[str, str]] = {}
    for oid, schema, name, relkind, description, owner, rows, definition in relations:
        by_oid[oid] = (schema, name)
        yield TableRecord(
            database=database,
            schema=schema,
            name=name,
            kind=RELKINDS[relkind],
            description=description,
            owner=owner,
            row_estimate=rows,
            definition=definition or "",
        )

    oids = list(by_oid)
    for start in range(0, len(oids), BATCH_SIZE):
        batch = oids[start : start + BATCH_SIZE]
        yield from _columns(conn, batch, by_oid, database=database)
        reporter.progress(min(start + BATCH_SIZE, len(oids)), len(oids))


def _columns(conn, oids: list[int], by_oid: dict, *, database: str) -> Iterator[ColumnRecord]:
    primary: set[tuple[int, int]] = set()
    foreign: dict[tuple[int, int], ColumnRef] = {}
    for contype, relid, attnum, ref_schema, ref_table, ref_column in conn.execute(
        KEYS_SQL, {"oids": oids}
    ):
        if contype == "p":
            primary.add((relid, attnum))
        elif ref_column is not None:
            # A column in several foreign keys points at the first one by name.
            foreign.setdefault(
                (relid, attnum), ColumnRef(database, ref_schema, ref_table, ref_column)
            )

    for relid, name, attnum, data_type, notnull, default, description in conn.execute(
        COLUMNS_SQL, {"oids": oids}
    ):
        schema, table = by_oid[relid]
        yield ColumnRecord(
            database=database,
            schema=schema,
            table=table,
            name=name,
            data_type=data_type,
            ordinal=attnum,
            nullable=not notnull,
            default=default,
            description=description,
            is_primary_key=(relid, attnum) in primary,
            foreign_key=foreign.get((relid, attnum)),
        )


CONNECTOR = Connector(
    single_database=True,
    key="postgres",
    label="PostgreSQL",
    category=WAREHOUSE,
    description="Schemas, tables, views, columns, keys and comments from a PostgreSQL database.",
    aliases=("pg", "postgres", "postgresql", "psql"),
    form=PostgresForm,
    secret_fields=("password",),
    # The SSL mode too: a weaker one lets a server in the middle ask for the password in clear
    # (AuthenticationCleartextPassword). Any change counts, stronger ones included: it is rare,
    # and one rule is easier to trust than a ranking of modes.
    destination_fields=("host", "port", "sslmode"),
    extract=extract,
    test_connection=test_connection,
    driver="psycopg",
    driver_package="psycopg[binary]",
    logo="img/connectors/postgres.svg",
)
