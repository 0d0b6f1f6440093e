"""Snowflake: databases, schemas, tables, views, columns, keys and comments, read from each
database's INFORMATION_SCHEMA with the official connector (snowflake-connector-python).

One account holds many databases, so each Snowflake database is a DatabaseRecord. The queries
are a fixed handful: SHOW DATABASES once, then per database SCHEMATA, TABLES, VIEWS, COLUMNS,
SHOW PRIMARY KEYS and SHOW IMPORTED KEYS, whatever the number of tables. Names are kept as
Snowflake stores them: upper-case unless they were created quoted ("MixedCase").

Snowflake enforces no keys, but records the ones declared: they are still worth showing.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
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

AUTH_PASSWORD = "password"
AUTH_KEY_PAIR = "key_pair"
# Tables whose columns make one progress step.
BATCH_SIZE = 1000
# The shared database of account usage views: large, and not the account's own data.
SYSTEM_DATABASES = ("SNOWFLAKE",)
SYSTEM_SCHEMAS = ("INFORMATION_SCHEMA",)

TABLE_TYPES = {
    "BASE TABLE": "table",
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized_view",
    "EXTERNAL TABLE": "external_table",
}

# Snowflake's login errors (390xxx) come from the server: wrong credentials, a locked or
# disabled user, a role or warehouse the user may not use. Retrying does not help them.
ER_INCORRECT_CREDENTIALS = 390100
ER_JWT_INVALID = 390144
LOGIN_ERRORS = range(390000, 391000)
# Client-side errors about the settings themselves (snowflake.connector.errorcode).
ER_NO_ACCOUNT_NAME = 251001
ER_INVALID_VALUE = 251007
ER_INVALID_PRIVATE_KEY = 251008


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value back, like PasswordInput(render_value=False)."""

    def format_value(self, value: Any) -> None:
        return None


def load_private_key(pem: str, passphrase: str = ""):
    """The private key object of a PEM text; ValueError or TypeError when it is not one."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(
        pem.strip().encode(), password=passphrase.encode() if passphrase else None
    )


def private_key_der(pem: str, passphrase: str = "") -> bytes:
    """The key as unencrypted PKCS#8 DER bytes, the form the connector takes."""
    from cryptography.hazmat.primitives import serialization

    return load_private_key(pem, passphrase).private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


class SnowflakeForm(forms.Form):
    account = forms.CharField(
        max_length=255,
        label="Account identifier",
        help_text="Your organization and account (myorg-myaccount) or account locator "
        "(xy12345.eu-west-1), without .snowflakecomputing.com.",
    )
    user = forms.CharField(max_length=255)
    auth_method = forms.ChoiceField(
        choices=[(AUTH_PASSWORD, "Password"), (AUTH_KEY_PAIR, "Key pair")],
        initial=AUTH_PASSWORD,
        label="Authentication",
    )
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=False
    )
    private_key = forms.CharField(
        required=False,
        widget=SecretTextarea(attrs={"rows": 4}),
        help_text="The PEM private key (-----BEGIN PRIVATE KEY-----...) whose public key is "
        "set on the user.",
    )
    private_key_passphrase = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text="Only if the private key is encrypted.",
    )
    role = forms.CharField(max_length=255, required=False, help_text="Empty: the user's default.")
    warehouse = forms.CharField(
        max_length=255, required=False, help_text="Empty: the user's default."
    )
    database_include = PatternListField(
        help_text="Databases to read, as glob patterns (ANALYTICS*), one per line. Empty: all."
    )
    database_exclude = PatternListField(help_text="Databases to skip, as glob patterns.")
    schema_include = PatternListField(
        help_text="Schemas to read in every database, as glob patterns. Empty: all."
    )
    schema_exclude = PatternListField(help_text="Schemas to skip, as glob patterns.")

    stored_config: dict[str, Any] | None = None

    def use_stored_config(self, config: dict[str, Any]) -> None:
        """Editing: a secret left blank keeps the stored one, so it is not missing."""
        self.stored_config = config

    def _has(self, name: str) -> bool:
        return bool(self.cleaned_data.get(name) or (self.stored_config or {}).get(name))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        method = cleaned.get("auth_method")
        if method == AUTH_PASSWORD and not self._has("password"):
            self.add_error("password", "Enter the password, or choose key pair authentication.")
        if method == AUTH_KEY_PAIR:
            pem = cleaned.get("private_key") or ""
            passphrase = cleaned.get("private_key_passphrase") or ""
            if pem:
                try:
                    load_private_key(pem, passphrase)
                except (ValueError, TypeError):
                    # The library's message may quote the key material: never show it.
                    self.add_error(
                        "private_key",
                        "This is not a PEM private key this passphrase opens: paste the "
                        "whole key, BEGIN and END lines included, and check the passphrase.",
                    )
            elif not self._has("private_key"):
                self.add_error("private_key", "Paste the private key for key pair authentication.")
        return cleaned


def secrets_sent(config: dict[str, Any]) -> tuple[str, ...]:
    """The password, or the key that signs the login token. A passphrase never leaves this
    server: it opens the key here (and belongs to the key it was typed with)."""
    if config.get("auth_method") == AUTH_KEY_PAIR:
        return ("private_key",)
    return ("password",)


def connection_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "account": config["account"].strip(),
        "user": config["user"],
        "login_timeout": int(config.get("login_timeout") or 30),
        "network_timeout": int(config.get("network_timeout") or 300),
        "application": "data-catalog",
        "session_parameters": {"QUERY_TAG": "data-catalog", "STATEMENT_TIMEOUT_IN_SECONDS": 300},
    }
    if config.get("auth_method") == AUTH_KEY_PAIR:
        try:
            kwargs["private_key"] = private_key_der(
                config.get("private_key") or "", config.get("private_key_passphrase") or ""
            )
        except (ValueError, TypeError):
            raise ConnectorError(
                "The stored private key cannot be read: paste it again, with its passphrase."
            ) from None
    else:
        kwargs["password"] = config.get("password") or ""
    for name in ("role", "warehouse"):
        if config.get(name):
            kwargs[name] = config[name]
    return kwargs


def _text(exc: Exception) -> str:
    text = str(getattr(exc, "raw_msg", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _scrub(text: str, config: dict[str, Any]) -> str:
    # The service scrubs again; this keeps secrets out of tracebacks and logs on the way.
    for name in ("password", "private_key", "private_key_passphrase"):
        value = str(config.get(name) or "")
        if value:
            text = text.replace(value, "********")
    return text


def describe_connect_error(exc: Exception, config: dict[str, Any]) -> ConnectorError:
    """Turn a driver error into a message an admin can act on (no secrets: Snowflake's
    messages name the account and user, never the password or key)."""
    from snowflake.connector import errors

    account, user = config.get("account"), config.get("user")
    errno = getattr(exc, "errno", None)
    text = _scrub(_text(exc), config)
    key_pair = config.get("auth_method") == AUTH_KEY_PAIR
    if errno == ER_INCORRECT_CREDENTIALS:
        return ConnectorError(
            f"Authentication failed for user '{user}' on account '{account}': check the user "
            "name and password."
        )
    if errno == ER_JWT_INVALID:
        return ConnectorError(
            f"Snowflake refused the key pair of user '{user}' on account '{account}': check "
            "that the user's RSA_PUBLIC_KEY matches this private key."
        )
    if errno in LOGIN_ERRORS:
        return ConnectorError(
            f"Snowflake refused the login of user '{user}' on account '{account}' ({text}): "
            f"check the user, the {'key pair' if key_pair else 'password'}, the role and the "
            "warehouse."
        )
    if errno in (ER_NO_ACCOUNT_NAME, ER_INVALID_VALUE, ER_INVALID_PRIVATE_KEY):
        return ConnectorError(f"The settings were refused ({text}): check them.")
    if isinstance(exc, errors.ForbiddenError):
        return ConnectorError(
            f"Snowflake answered 403 Forbidden for account '{account}': check the account "
            "identifier and that a network policy allows this machine."
        )
    return TransientConnectorError(
        f"Could not connect to Snowflake account '{account}' ({text}): check the account "
        "identifier and that this machine can reach <account>.snowflakecomputing.com."
    )


@contextmanager
def connect(config: dict[str, Any]):
    """A connection, with every driver error turned into a ConnectorError."""
    # Looked up at call time, not imported by name, so fakesnow.patch() can stand in for it.
    import snowflake.connector
    from snowflake.connector import errors

    kwargs = connection_kwargs(config)
    try:
        conn = snowflake.connector.connect(**kwargs)
    except errors.Error as exc:
        raise describe_connect_error(exc, config) from None
    try:
        yield conn
    except (errors.OperationalError, errors.InterfaceError) as exc:
        raise TransientConnectorError(
            f"The connection to Snowflake was lost while reading the catalog: "
            f"{_scrub(_text(exc), config)}"
        ) from None
    except errors.Error as exc:
        raise ConnectorError(f"Reading the catalog failed: {_scrub(_text(exc), config)}") from None
    finally:
        conn.close()


def quote(identifier: str) -> str:
    """A name as Snowflake stores it, quoted so its case and characters are kept."""
    return '"' + identifier.replace('"', '""') + '"'


def fetch_dicts(cur, sql: str) -> list[dict[str, Any]]:
    """Rows keyed by lower-cased column name (SHOW answers in lower case, SELECT in upper)."""
    cur.execute(sql)
    names = [d[0].lower() for d in cur.description]
    return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]


def list_databases(conn, config: dict[str, Any]) -> list[dict[str, Any]]:
    include = config.get("database_include") or []
    exclude = config.get("database_exclude") or []
    with conn.cursor() as cur:
        rows = fetch_dicts(cur, "SHOW DATABASES")
    return [
        row
        for row in sorted(rows, key=lambda row: row["name"])
        if row["name"] not in SYSTEM_DATABASES
        and name_included(row["name"], include=include, exclude=exclude)
    ]


def test_connection(config: dict[str, Any]) -> str:
    with connect(config) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_VERSION()")
            version = cur.fetchone()[0]
        databases = list_databases(conn, config)
    return f"Connected to Snowflake {version}; {len(databases)} databases readable."


SCHEMATA_SQL = """
SELECT SCHEMA_NAME, COMMENT, SCHEMA_OWNER
FROM {db}.INFORMATION_SCHEMA.SCHEMATA
WHERE SCHEMA_NAME <> 'INFORMATION_SCHEMA'
ORDER BY SCHEMA_NAME
"""

TABLES_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COMMENT, ROW_COUNT, BYTES, LAST_ALTERED,
       TABLE_OWNER, IS_DYNAMIC
FROM {db}.INFORMATION_SCHEMA.TABLES
WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
ORDER BY TABLE_SCHEMA, TABLE_NAME
"""

VIEWS_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, TABLE_OWNER, COMMENT, LAST_ALTERED
FROM {db}.INFORMATION_SCHEMA.VIEWS
WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
"""

COLUMNS_SQL = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE,
       CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, IS_NULLABLE, COLUMN_DEFAULT,
       COMMENT
FROM {db}.INFORMATION_SCHEMA.COLUMNS
WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'
ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""

PRIMARY_KEYS_SQL = "SHOW PRIMARY KEYS IN DATABASE {db}"
IMPORTED_KEYS_SQL = "SHOW IMPORTED KEYS IN DATABASE {db}"


def database_queries(database: str) -> dict[str, str]:
    db = quote(database)
    return {
        "schemata": SCHEMATA_SQL.format(db=db),
        "tables": TABLES_SQL.format(db=db),
        "views": VIEWS_SQL.format(db=db),
        "columns": COLUMNS_SQL.format(db=db),
        "primary_keys": PRIMARY_KEYS_SQL.format(db=db),
        "imported_keys": IMPORTED_KEYS_SQL.format(db=db),
    }


def readable_type(
    data_type: str, length: int | None, precision: int | None, scale: int | None
) -> str:
    """NUMBER(38,0), VARCHAR(16777216): INFORMATION_SCHEMA says NUMBER and TEXT, bare."""
    if data_type == "TEXT":
        return f"VARCHAR({length})" if length else "VARCHAR"
    if data_type == "BINARY" and length:
        return f"BINARY({length})"
    if data_type == "NUMBER" and precision is not None:
        return f"NUMBER({precision},{scale or 0})"
    return data_type


def parse_primary_keys(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(schema, table, column) of SHOW PRIMARY KEYS rows."""
    return {(r["schema_name"], r["table_name"], r["column_name"]) for r in rows}


def parse_imported_keys(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], ColumnRef]:
    """(schema, table, column) of each SHOW IMPORTED KEYS row to the column it references."""
    foreign: dict[tuple[str, str, str], ColumnRef] = {}
    for r in sorted(rows, key=lambda r: (r.get("fk_name") or "", r.get("key_sequence") or 0)):
        # A column in several foreign keys points at the first one by name, as elsewhere.
        foreign.setdefault(
            (r["fk_schema_name"], r["fk_table_name"], r["fk_column_name"]),
            ColumnRef(
                r["pk_database_name"], r["pk_schema_name"], r["pk_table_name"], r["pk_column_name"]
            ),
        )
    return foreign


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator[Record]:
    with connect(config) as conn:
        databases = list_databases(conn, config)
        if not databases:
            reporter.progress(0, 0)
        for index, row in enumerate(databases):
            yield from extract_database(
                conn, config, row, reporter=reporter, position=(index, len(databases))
            )


def _read(cur, sql: str, *, reporter: Reporter, failure: str) -> list[dict[str, Any]] | None:
    """A query whose failure (a privilege, a feature) is a warning rather than a failed run."""
    from snowflake.connector import errors

    try:
        return fetch_dicts(cur, sql)
    except errors.ProgrammingError as exc:
        reporter.warning(f"{failure}: {_text(exc)}")
        return None


def extract_database(
    conn, config: dict[str, Any], row: dict[str, Any], *, reporter: Reporter, position=(0, 1)
) -> Iterator[Record]:
    database = row["name"]
    include = config.get("schema_include") or []
    exclude = config.get("schema_exclude") or []
    sql = database_queries(database)
    with conn.cursor() as cur:
        schemata = _read(
            cur,
            sql["schemata"],
            reporter=reporter,
            failure=f"Skipped database {database}: its INFORMATION_SCHEMA cannot be read",
        )
        if schemata is None:
            return
        schemas = [
            s for s in schemata if name_included(s["schema_name"], include=include, exclude=exclude)
        ]
        names = {s["schema_name"] for s in schemas}
        tables: list[dict[str, Any]] = []
        views: list[dict[str, Any]] = []
        columns: list[dict[str, Any]] = []
        primary: set[tuple[str, str, str]] = set()
        foreign: dict[tuple[str, str, str], ColumnRef] = {}
        if names:
            failure = f"Skipped database {database}: its tables cannot be read"
            read = [
                _read(cur, sql[name], reporter=reporter, failure=failure)
                for name in ("tables", "views", "columns")
            ]
            if any(rows is None for rows in read):
                # Keep what the catalog had of these schemas rather than marking it removed.
                for name in sorted(names):
                    reporter.skipped(database, name)
                names = set()
            else:
                tables, views, columns = read
                primary, foreign = read_keys(cur, sql, database=database, reporter=reporter)

    yield DatabaseRecord(
        name=database, description=row.get("comment") or "", owner=row.get("owner") or ""
    )
    for s in schemas:
        yield SchemaRecord(
            database=database,
            name=s["schema_name"],
            description=s.get("comment") or "",
            owner=s.get("schema_owner") or "",
        )
    if not names:
        return

    definitions = {(v["table_schema"], v["table_name"]): v["view_definition"] for v in views}
    listed = {(t["table_schema"], t["table_name"]) for t in tables}
    # Snowflake lists views in TABLES too; fakesnow does not, so VIEWS fills them in.
    tables = tables + [
        {**v, "table_type": "VIEW", "row_count": None, "bytes": None, "is_dynamic": "NO"}
        for v in views
        if (v["table_schema"], v["table_name"]) not in listed
    ]
    tables.sort(key=lambda t: (t["table_schema"], t["table_name"]))
    kept = [t for t in tables if t["table_schema"] in names and t["table_type"] in TABLE_TYPES]
    for t in tables:
        if t["table_schema"] in names and t["table_type"] not in TABLE_TYPES:
            logger.debug("skipping %s table %s", t["table_type"], t["table_name"])
    reporter.progress(0, len(kept))
    for t in kept:
        yield table_record(database, t, definitions.get((t["table_schema"], t["table_name"])))

    known = {(t["table_schema"], t["table_name"]) for t in kept}
    done = 0
    for (schema, table), rows in itertools.groupby(
        columns, key=lambda c: (c["table_schema"], c["table_name"])
    ):
        if (schema, table) not in known:
            continue  # a kind not catalogued, or a table created since the tables were read
        for c in rows:
            key = (schema, table, c["column_name"])
            yield ColumnRecord(
                database=database,
                schema=schema,
                table=table,
                name=c["column_name"],
                data_type=readable_type(
                    c["data_type"],
                    c["character_maximum_length"],
                    c["numeric_precision"],
                    c["numeric_scale"],
                ),
                ordinal=c["ordinal_position"],
                nullable=c["is_nullable"] == "YES",
                default=c["column_default"] or "",
                description=c["comment"] or "",
                is_primary_key=key in primary,
                foreign_key=foreign.get(key),
            )
        done += 1
        if done % BATCH_SIZE == 0 and done < len(kept):
            reporter.progress(done, len(kept))
    reporter.progress(len(kept), len(kept))


def table_record(database: str, t: dict[str, Any], definition: str | None) -> TableRecord:
    description = t["comment"] or ""
    if t.get("is_dynamic") == "YES":
        # Table.Kind has no dynamic table: it is a table kept up to date by a query.
        description = f"{description}\n\n(Snowflake dynamic table)".strip()
    is_view = t["table_type"] in ("VIEW", "MATERIALIZED VIEW")
    altered = t["last_altered"]
    return TableRecord(
        database=database,
        schema=t["table_schema"],
        name=t["table_name"],
        kind=TABLE_TYPES[t["table_type"]],
        description=description,
        owner=t["table_owner"] or "",
        row_estimate=None if t["table_type"] == "VIEW" else t["row_count"],
        last_altered=altered if isinstance(altered, datetime) else None,
        definition=definition or "" if is_view else "",
        properties={} if t.get("bytes") is None else {"bytes": t["bytes"]},
    )


def read_keys(
    cur, sql: dict[str, str], *, database: str, reporter: Reporter
) -> tuple[set[tuple[str, str, str]], dict[tuple[str, str, str], ColumnRef]]:
    failure = f"Keys of database {database} were not read"
    primary = _read(cur, sql["primary_keys"], reporter=reporter, failure=failure)
    imported = _read(cur, sql["imported_keys"], reporter=reporter, failure=failure)
    return parse_primary_keys(primary or []), parse_imported_keys(imported or [])


CONNECTOR = Connector(
    key="snowflake",
    label="Snowflake",
    category=WAREHOUSE,
    description="Databases, schemas, tables, views, columns, keys and comments from a "
    "Snowflake account.",
    aliases=("sf", "snowflake", "snowflake computing"),
    form=SnowflakeForm,
    secret_fields=("password", "private_key", "private_key_passphrase"),
    # The account names the host (<account>.snowflakecomputing.com); there is no other.
    destination_fields=("account",),
    sent_secrets=secrets_sent,
    extract=extract,
    test_connection=test_connection,
    driver="snowflake.connector",
    driver_package="snowflake-connector-python",
    identifier_case="upper",
    logo="img/connectors/snowflake.svg",
)
