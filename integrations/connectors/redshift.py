"""Amazon Redshift: schemas, tables, views, materialized views, late-binding views, Spectrum
external tables, columns, informational keys, COMMENTs and row estimates.

Redshift speaks PostgreSQL's wire protocol, so this reuses the Postgres connector's form and
read-only connection. Its catalog is PostgreSQL 8.0's plus Redshift's own system views, so the
reading differs (AWS, Amazon Redshift Database Developer Guide):

- pg_class has no relispartition and no relkind 'p' or 'm': a materialized view is a view
  (relkind 'v') that STV_MV_INFO names, and its rows live in a table Redshift calls
  mv_tbl__<view>__0, which is hidden here.
- Row estimates come from SVV_TABLE_INFO, not pg_class.reltuples.
- Late-binding views (WITH NO SCHEMA BINDING) have no pg_attribute rows: their columns come
  from PG_GET_LATE_BINDING_VIEW_COLS().
- External (Spectrum, federated) tables are not in pg_class: SVV_EXTERNAL_TABLES and
  SVV_EXTERNAL_COLUMNS describe them, one external schema at a time.
- Redshift rejects array bind parameters ("Only constant arrays supported in IN/ANY/ALL"), so
  no query here binds a list; LATERAL and unnest are avoided too.
- Redshift's system views (STV_, SVV_) and the catalog tables (pg_) are each read in a query
  of their own and joined here, not in SQL: Redshift can refuse a query that mixes tables
  kept on the leader node with tables that live on the compute nodes.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from django import forms

from .base import (
    WAREHOUSE,
    ColumnRecord,
    ColumnRef,
    Connector,
    DatabaseRecord,
    Record,
    Reporter,
    SchemaRecord,
    TableRecord,
    name_included,
    split_patterns,
)
from .postgres import SSL_MODES, STATEMENT_TIMEOUT_SQL, PostgresForm, connect

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5439
DEFAULT_SSLMODE = "require"
RELKINDS = {"r": "table", "v": "view"}
# The table that holds a materialized view's rows; AWS's EXPLAIN examples show it
# ("XN Seq Scan on mv_tbl__tickets_mv__0").
MV_TABLE = re.compile(r"^mv_tbl__.+__\d+$")
VERSION = re.compile(r"\bRedshift (\d[\d.]*)")


class RedshiftForm(PostgresForm):
    host = forms.CharField(
        max_length=255,
        help_text="The cluster or workgroup endpoint, without port or database "
        "(examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com).",
    )
    port = forms.IntegerField(min_value=1, max_value=65535, initial=DEFAULT_PORT)
    database = forms.CharField(max_length=127, initial="dev")
    user = forms.CharField(max_length=128)
    sslmode = forms.ChoiceField(
        choices=[(m, m) for m in SSL_MODES],
        initial=DEFAULT_SSLMODE,
        label="SSL mode",
        help_text="verify-ca and verify-full also need Amazon's CA bundle on this server.",
    )


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Redshift's port and SSL mode where the config leaves them blank, so that connect()
    and its error messages do not fall back to PostgreSQL's."""
    return {
        **config,
        "port": config.get("port") or DEFAULT_PORT,
        "sslmode": config.get("sslmode") or DEFAULT_SSLMODE,
    }


@contextmanager
def redshift_connect(config: dict[str, Any]):
    """postgres.connect() (read-only, errors turned into ConnectorError) with Redshift's defaults."""
    with connect(with_defaults(config)) as conn:
        # psycopg prepares a query run five times and, after a ROLLBACK (see read_optional),
        # drops its prepared statements with DEALLOCATE ALL, which Redshift does not accept.
        conn.prepare_threshold = None
        yield conn


def test_connection(config: dict[str, Any]) -> str:
    with redshift_connect(config) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        schemas = list_schemas(conn, config)
    return f"Connected to {server_name(version)}; {len(schemas)} schemas readable."


def server_name(version: str) -> str:
    """Redshift's version() reads "PostgreSQL 8.0.2 on i686-pc-linux-gnu, ..., Redshift 1.0.12103"."""
    match = VERSION.search(version)
    if match:
        return f"Amazon Redshift {match.group(1)}"
    return " ".join(version.split()[:2])  # not Redshift (a PostgreSQL stand-in, say)


DATABASE_SQL = "SELECT current_database()"

SCHEMAS_SQL = """
SELECT n.nspname, COALESCE(obj_description(n.oid, 'pg_namespace'), ''), COALESCE(u.usename, '')
FROM pg_namespace n
LEFT JOIN pg_user u ON u.usesysid = n.nspowner
ORDER BY n.nspname
"""

# External schemas have rows here too; their tables do not.
RELATIONS_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind,
       COALESCE(obj_description(c.oid, 'pg_class'), ''), COALESCE(u.usename, ''),
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_user u ON u.usesysid = c.relowner
WHERE c.relkind IN ('r', 'v')
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY n.nspname, c.relname
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''),
       COALESCE(col_description(a.attrelid, a.attnum), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# Informational on Redshift (not enforced) but declared, so worth cataloguing. The key
# columns stay arrays here and are paired up in Python: no unnest, no LATERAL.
KEYS_SQL = """
SELECT con.contype, con.conrelid, con.conkey, con.confrelid, con.confkey
FROM pg_constraint con
WHERE con.contype IN ('p', 'f')
ORDER BY con.contype DESC, con.conname
"""

REFERENCED_COLUMNS_SQL = """
SELECT a.attrelid, a.attnum, a.attname, n.nspname, c.relname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0
  AND a.attrelid IN (SELECT con.confrelid FROM pg_constraint con WHERE con.contype = 'f')
"""

# STV_MV_INFO rather than SVV_MV_INFO: AWS documents that regular users see the materialized
# views of the schemas they can access in the former, only their own in the latter.
# Its columns are char(128), so blank-padded.
MATERIALIZED_VIEWS_SQL = 'SELECT db_name, "schema", name FROM stv_mv_info'

# No row for an empty table. Only superusers may read it unless granted SELECT.
TABLE_ROWS_SQL = """
SELECT "database", "schema", "table", COALESCE(estimated_visible_rows, tbl_rows)
FROM svv_table_info
"""

LATE_BINDING_COLUMNS_SQL = """
SELECT view_schema, view_name, col_name, col_type, col_num
FROM pg_get_late_binding_view_cols()
     cols(view_schema name, view_name name, col_name name, col_type varchar, col_num int)
ORDER BY view_schema, view_name, col_num
"""

EXTERNAL_SCHEMAS_SQL = "SELECT schemaname FROM svv_external_schemas ORDER BY schemaname"

# Both views also list tables of other databases (cross-database queries): keep this one's.
EXTERNAL_TABLES_SQL = """
SELECT tablename
FROM svv_external_tables
WHERE redshift_database_name = %(database)s AND schemaname = %(schema)s
ORDER BY tablename
"""

EXTERNAL_COLUMNS_SQL = """
SELECT tablename, columnname, external_type, columnnum, is_nullable
FROM svv_external_columns
WHERE redshift_database_name = %(database)s AND schemaname = %(schema)s
ORDER BY tablename, columnnum
"""


class Relation(NamedTuple):
    oid: int
    schema: str
    name: str
    relkind: str
    description: str
    owner: str
    definition: str | None


class SystemViews(NamedTuple):
    """What Redshift's own views add to pg_catalog; empty where they could not be read."""

    materialized: set[tuple[str, str]]
    row_estimates: dict[tuple[str, str], int]
    late_binding: dict[tuple[str, str], list[tuple[str, str, int]]]
    external_schemas: list[str]


class Keys(NamedTuple):
    primary: set[tuple[int, int]]
    foreign: dict[tuple[int, int], ColumnRef]


class ExternalSchema(NamedTuple):
    tables: list[str]
    columns: list[tuple[str, str, str, int, str]]


def is_system_schema(name: str) -> bool:
    # pg_catalog, pg_internal, pg_automv, pg_temp_*: Redshift's own, like PostgreSQL's.
    return name == "information_schema" or name.startswith("pg_")


def list_schemas(conn, config: dict[str, Any]) -> list[tuple[str, str, str]]:
    include = split_patterns(config.get("schema_include"))
    exclude = split_patterns(config.get("schema_exclude"))
    return [
        row
        for row in conn.execute(SCHEMAS_SQL)
        if not is_system_schema(row[0]) and name_included(row[0], include=include, exclude=exclude)
    ]


def read_optional(
    conn, sql: str, params: dict[str, Any] | None = None, *, reporter: Reporter, failure: str
) -> list[tuple] | None:
    """The rows of a query that may fail without failing the sync (a system view the user
    may not read, an external schema whose AWS Glue catalog is out of reach); None, with a
    warning, when it does."""
    import psycopg

    try:
        return conn.execute(sql, params).fetchall()
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise
        # Redshift documents no SAVEPOINT: roll the read-only transaction back (nothing is
        # lost but the snapshot) and restore the timeout, which the rollback undid.
        conn.rollback()
        conn.execute(STATEMENT_TIMEOUT_SQL)
        reason = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
        reporter.warning(f"{failure} ({reason}).")
        logger.info("redshift: optional read failed: %s", type(exc).__name__)
        return None


def read_system_views(conn, *, database: str, reporter: Reporter) -> SystemViews:
    mv_rows = read_optional(
        conn,
        MATERIALIZED_VIEWS_SQL,
        reporter=reporter,
        failure="Could not read stv_mv_info: materialized views are listed as views",
    )
    row_rows = read_optional(
        conn,
        TABLE_ROWS_SQL,
        reporter=reporter,
        failure="Could not read svv_table_info: tables have no row estimates; a superuser can "
        "GRANT SELECT ON svv_table_info to this user",
    )
    late_rows = read_optional(
        conn,
        LATE_BINDING_COLUMNS_SQL,
        reporter=reporter,
        failure="Could not read pg_get_late_binding_view_cols(): late-binding views have no columns",
    )
    external_rows = read_optional(
        conn,
        EXTERNAL_SCHEMAS_SQL,
        reporter=reporter,
        failure="Could not read svv_external_schemas: external tables are skipped",
    )
    late_binding: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    for schema, view, column, data_type, ordinal in late_rows or ():
        late_binding[(schema, view)].append((column, data_type, ordinal))
    return SystemViews(
        materialized={
            (schema.rstrip(), name.rstrip())
            for db, schema, name in mv_rows or ()
            if db.rstrip() == database
        },
        row_estimates={
            (schema, table): int(rows)
            for db, schema, table, rows in row_rows or ()
            if db == database and rows is not None
        },
        late_binding=dict(late_binding),
        external_schemas=[row[0] for row in external_rows or ()],
    )


def read_keys(conn, *, database: str) -> Keys:
    referenced = {
        (relid, attnum): (schema, table, name)
        for relid, attnum, name, schema, table in conn.execute(REFERENCED_COLUMNS_SQL)
    }
    primary: set[tuple[int, int]] = set()
    foreign: dict[tuple[int, int], ColumnRef] = {}
    for contype, relid, conkey, frelid, confkey in conn.execute(KEYS_SQL):
        if contype == "p":
            primary.update((relid, attnum) for attnum in conkey)
            continue
        # conkey[i] references confkey[i]. A column in several foreign keys points at the
        # first one by name, as in the Postgres connector.
        for attnum, fattnum in zip(conkey, confkey or (), strict=False):
            target = referenced.get((frelid, fattnum))
            if target is not None:
                foreign.setdefault((relid, attnum), ColumnRef(database, *target))
    return Keys(primary, foreign)


def read_external_schema(
    conn, schema: str, *, database: str, reporter: Reporter
) -> ExternalSchema | None:
    failure = (
        f"Skipped external schema '{schema}': check its IAM role and its AWS Glue or "
        "Lake Formation permissions"
    )
    params = {"database": database, "schema": schema}
    tables = read_optional(conn, EXTERNAL_TABLES_SQL, params, reporter=reporter, failure=failure)
    columns = None
    if tables is not None:
        columns = read_optional(
            conn, EXTERNAL_COLUMNS_SQL, params, reporter=reporter, failure=failure
        )
    if columns is None:
        reporter.skipped(database, schema)
        return None
    return ExternalSchema([row[0] for row in tables], columns)


def read_external(
    conn, schemas: list[str], *, database: str, reporter: Reporter
) -> dict[str, ExternalSchema]:
    """The readable external schemas; each one that fails is a warning."""
    external = {}
    for schema in schemas:
        found = read_external_schema(conn, schema, database=database, reporter=reporter)
        if found is not None:
            external[schema] = found
    return external


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator[Record]:
    with redshift_connect(config) as conn:
        database = conn.execute(DATABASE_SQL).fetchone()[0]
        # No description: Redshift's catalog comes from PostgreSQL 8.0, older than
        # shobj_description(), and no other source of database comments was verified.
        yield DatabaseRecord(name=database)
        yield from extract_database(conn, config, database=database, reporter=reporter)


def extract_database(
    conn, config: dict[str, Any], *, database: str, reporter: Reporter
) -> Iterator[Record]:
    schemas = list_schemas(conn, config)
    for name, description, owner in schemas:
        yield SchemaRecord(database=database, name=name, description=description, owner=owner)
    included = {row[0] for row in schemas}

    system = read_system_views(conn, database=database, reporter=reporter)
    relations = [
        relation
        for relation in map(Relation._make, conn.execute(RELATIONS_SQL))
        if relation.schema in included and not MV_TABLE.match(relation.name)
    ]
    external = read_external(
        conn,
        [schema for schema in system.external_schemas if schema in included],
        database=database,
        reporter=reporter,
    )
    keys = read_keys(conn, database=database)

    total = len(relations) + sum(len(found.tables) for found in external.values())
    reporter.progress(0, total)
    yield from _local_tables(relations, system, database=database)
    yield from _external_tables(external, database=database)

    done = 0
    by_schema: dict[str, list[Relation]] = defaultdict(list)
    for relation in relations:
        by_schema[relation.schema].append(relation)
    for schema, members in by_schema.items():
        yield from _local_columns(conn, schema, members, system, keys, database=database)
        done += len(members)
        reporter.progress(done, total)
    for schema, found in external.items():
        yield from _external_columns(schema, found, database=database)
        done += len(found.tables)
        reporter.progress(done, total)


def _local_tables(
    relations: Iterable[Relation], system: SystemViews, *, database: str
) -> Iterator[TableRecord]:
    for relation in relations:
        key = (relation.schema, relation.name)
        materialized = relation.relkind == "v" and key in system.materialized
        if materialized:
            rows = system.row_estimates.get((relation.schema, f"mv_tbl__{relation.name}__0"))
        else:
            rows = system.row_estimates.get(key) if relation.relkind == "r" else None
        yield TableRecord(
            database=database,
            schema=relation.schema,
            name=relation.name,
            kind="materialized_view" if materialized else RELKINDS[relation.relkind],
            description=relation.description,
            owner=relation.owner,
            row_estimate=rows,
            definition=relation.definition or "",
        )


def _external_tables(
    external: dict[str, ExternalSchema], *, database: str
) -> Iterator[TableRecord]:
    for schema, found in external.items():
        for name in found.tables:
            yield TableRecord(database=database, schema=schema, name=name, kind="external_table")


def _local_columns(
    conn, schema: str, relations: list[Relation], system: SystemViews, keys: Keys, *, database: str
) -> Iterator[ColumnRecord]:
    names = {relation.oid: relation.name for relation in relations}
    described: set[int] = set()
    for relid, name, attnum, data_type, notnull, default, description in conn.execute(
        COLUMNS_SQL, {"schema": schema}
    ):
        if relid not in names:
            continue  # a materialized view's own table
        described.add(relid)
        yield ColumnRecord(
            database=database,
            schema=schema,
            table=names[relid],
            name=name,
            data_type=data_type,
            ordinal=attnum,
            nullable=not notnull,
            default=default,
            description=description,
            is_primary_key=(relid, attnum) in keys.primary,
            foreign_key=keys.foreign.get((relid, attnum)),
        )
    for relation in relations:
        if relation.relkind == "v" and relation.oid not in described:
            late = system.late_binding.get((schema, relation.name), ())
            for name, data_type, ordinal in late:
                yield ColumnRecord(
                    database=database,
                    schema=schema,
                    table=relation.name,
                    name=name,
                    data_type=data_type,
                    ordinal=ordinal,
                )


def _external_columns(
    schema: str, found: ExternalSchema, *, database: str
) -> Iterator[ColumnRecord]:
    tables = set(found.tables)
    for table, name, data_type, ordinal, nullable in found.columns:
        if table not in tables:
            continue  # created between the two reads
        yield ColumnRecord(
            database=database,
            schema=schema,
            table=table,
            name=name,
            data_type=data_type,
            ordinal=ordinal,
            # 'true', 'false' or '' (unknown), as AWS documents it.
            nullable=(nullable or "").strip().lower() != "false",
        )


CONNECTOR = Connector(
    single_database=True,
    key="redshift",
    label="Amazon Redshift",
    category=WAREHOUSE,
    description="Schemas, tables, views, materialized and late-binding views, Spectrum external "
    "tables, columns, keys and comments from an Amazon Redshift database.",
    aliases=("redshift", "aws", "amazon"),
    form=RedshiftForm,
    secret_fields=("password",),
    destination_fields=("host", "port", "sslmode"),  # as PostgreSQL's, SSL mode included
    extract=extract,
    test_connection=test_connection,
    driver="psycopg",
    driver_package="psycopg[binary]",
    logo="img/connectors/redshift.svg",
)
