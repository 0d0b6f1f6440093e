"""The Redshift connector against a stand-in: a real PostgreSQL database that imitates Redshift's
system views (tests/fixtures/redshift_standin.sql). No Redshift is reachable from the tests, so
what this proves is that the connector reads those views as AWS documents them, speaks the
protocol through the real driver, and does not lean on PostgreSQL features Redshift lacks (the
last checked on the SQL itself, since the stand-in would allow them)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

from integrations.connectors import get_connector, redshift
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    ConnectorError,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
)
from integrations.connectors.postgres import STATEMENT_TIMEOUT_SQL
from tests.support.reporting import RecordingReporter

STANDIN_SQL = Path(__file__).resolve().parents[2] / "fixtures" / "redshift_standin.sql"


@pytest.fixture(scope="module")
def standin(pg_server):
    """A fresh database with the Redshift stand-in loaded; dropped afterwards."""
    name = pg_server.create_database("rs")
    try:
        pg_server.restore(name, STANDIN_SQL)
        yield name
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="module")
def config(pg_server, standin) -> dict:
    return pg_server.integration_config(standin)


@pytest.fixture(scope="module")
def extracted(config):
    return extract_all(config)


@pytest.fixture
def reader(pg_server, standin):
    """A login role that is not a superuser, as a catalog's Redshift user should be."""
    role = f"rs_reader_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    yield role
    with pg_server.connect() as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def executed(monkeypatch):
    """Every (query, params) the connector sends through Connection.execute."""
    calls: list[tuple[str, object]] = []
    original = psycopg.Connection.execute

    def spy(self, query, params=None, **kwargs):
        calls.append((str(query), params))
        return original(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    return calls


def extract_all(config: dict) -> tuple[list, RecordingReporter]:
    reporter = RecordingReporter()
    return list(redshift.extract(config, reporter=reporter)), reporter


def tables_of(records) -> dict[tuple[str, str], TableRecord]:
    return {(r.schema, r.name): r for r in records if isinstance(r, TableRecord)}


def columns_of(records, schema: str, table: str) -> list[ColumnRecord]:
    found = [
        r for r in records if isinstance(r, ColumnRecord) and (r.schema, r.table) == (schema, table)
    ]
    return sorted(found, key=lambda c: c.ordinal)


def column(records, schema: str, table: str, name: str) -> ColumnRecord:
    (found,) = [c for c in columns_of(records, schema, table) if c.name == name]
    return found


def test_tables_views_materialized_views_and_external_tables_get_their_kinds(extracted):
    records, _ = extracted
    kinds = {key: t.kind for key, t in tables_of(records).items()}
    assert kinds[("sales", "customers")] == "table"
    assert kinds[("sales", "recent_orders")] == "view"
    assert kinds[("sales", "orders_lbv")] == "view"
    assert kinds[("sales", "daily_revenue")] == "materialized_view"
    assert kinds[("spectrum", "clicks")] == "external_table"
    assert kinds[("spectrum", "page_views")] == "external_table"
    assert isinstance(records[0], DatabaseRecord)
    assert {r.name for r in records if isinstance(r, SchemaRecord)} == {
        "public",
        "sales",
        "spectrum",
        "spectrum_broken",
        "staging",
    }


def test_a_materialized_views_own_table_is_hidden_and_its_columns_shown_on_the_view(extracted):
    records, _ = extracted
    assert not [name for _, name in tables_of(records) if name.startswith("mv_tbl__")]
    assert [c.name for c in columns_of(records, "sales", "daily_revenue")] == ["day", "revenue"]
    assert not columns_of(records, "sales", "mv_tbl__daily_revenue__0")


def test_a_view_named_in_another_databases_stv_mv_info_stays_a_view(extracted):
    records, _ = extracted
    assert tables_of(records)[("sales", "recent_orders")].kind == "view"


def test_late_binding_view_columns_come_from_the_redshift_function(extracted):
    records, _ = extracted
    cols = columns_of(records, "sales", "orders_lbv")
    assert [(c.name, c.data_type, c.ordinal) for c in cols] == [
        ("order_id", "bigint", 1),
        ("amount", "numeric(12,2)", 2),
    ]
    assert "FROM sales.orders" in tables_of(records)[("sales", "orders_lbv")].definition


def test_row_estimates_come_from_svv_table_info(extracted):
    records, _ = extracted
    tables = tables_of(records)
    # estimated_visible_rows leaves out deleted rows that tbl_rows still counts.
    assert tables[("sales", "customers")].row_estimate == 100
    assert tables[("sales", "orders")].row_estimate == 5000  # estimated_visible_rows is NULL
    assert tables[("sales", "daily_revenue")].row_estimate == 365  # from mv_tbl__daily_revenue__0
    assert tables[("public", "events")].row_estimate is None  # empty: no svv_table_info row
    assert tables[("sales", "recent_orders")].row_estimate is None
    assert tables[("spectrum", "clicks")].row_estimate is None


def test_comments_become_descriptions(extracted):
    records, _ = extracted
    schemas = {r.name: r for r in records if isinstance(r, SchemaRecord)}
    tables = tables_of(records)
    assert schemas["sales"].description == "Orders and the customers who place them."
    assert schemas["spectrum"].description == "Click logs in S3."
    assert tables[("sales", "customers")].description == "One row per customer."
    assert tables[("sales", "recent_orders")].description == "Orders since 2024."
    assert tables[("sales", "daily_revenue")].description == "Revenue per day."
    assert column(records, "sales", "customers", "region").description == "Sales region code."
    assert column(records, "sales", "customers", "region").default == "'EU'::bpchar"
    assert tables[("sales", "customers")].owner == "postgres"


def test_primary_and_foreign_keys_are_catalogued(extracted):
    records, _ = extracted
    db = records[0].name
    primary = {
        (c.schema, c.table, c.name)
        for c in records
        if isinstance(c, ColumnRecord) and c.is_primary_key
    }
    assert {("sales", "order_lines", "order_id"), ("sales", "order_lines", "line_no")} <= primary
    assert ("sales", "order_lines", "sku") not in primary
    assert column(records, "sales", "orders", "customer_id").foreign_key == ColumnRef(
        db, "sales", "customers", "customer_id"
    )
    # A composite key declared in another column order than the key it references.
    assert column(records, "sales", "returns", "line").foreign_key == ColumnRef(
        db, "sales", "order_lines", "line_no"
    )
    assert column(records, "sales", "returns", "ord").foreign_key == ColumnRef(
        db, "sales", "order_lines", "order_id"
    )
    assert column(records, "public", "events", "customer_id").foreign_key == ColumnRef(
        db, "sales", "customers", "customer_id"
    )
    assert column(records, "sales", "orders", "amount").foreign_key is None


def test_external_columns_come_from_svv_external_columns(extracted):
    records, _ = extracted
    cols = columns_of(records, "spectrum", "clicks")
    assert [(c.name, c.data_type, c.ordinal, c.nullable) for c in cols] == [
        ("url", "varchar(2048)", 1, True),
        ("clicked_at", "timestamp", 2, False),
        ("dt", "varchar(10)", 3, True),  # '' means unknown: not declared NOT NULL
    ]
    # svv_external_tables also lists other databases' tables for cross-database queries.
    assert ("spectrum", "elsewhere") not in tables_of(records)


def test_an_unreachable_external_schema_is_a_warning_and_the_rest_is_read(extracted):
    records, reporter = extracted
    assert len(reporter.warnings) == 1
    assert "spectrum_broken" in reporter.warnings[0]
    assert "IAM role" in reporter.warnings[0]
    assert not [key for key in tables_of(records) if key[0] == "spectrum_broken"]
    # The catalog is told to keep what it had of that schema instead of removing it.
    database = next(r.name for r in records if isinstance(r, DatabaseRecord))
    assert reporter.skipped_schemas == [(database, "spectrum_broken")]
    # Read after the failure, on the same connection.
    assert columns_of(records, "spectrum", "page_views")
    assert columns_of(records, "staging", "raw_orders")


def test_progress_counts_tables_up_to_the_total(extracted):
    records, reporter = extracted
    total = len(tables_of(records))
    assert reporter.progress_calls[0] == (0, total)
    assert reporter.progress_calls[-1] == (total, total)
    assert [done for done, _ in reporter.progress_calls] == sorted(
        done for done, _ in reporter.progress_calls
    )


def test_schema_include_and_exclude_apply_to_tables_views_and_external_schemas(config):
    records, reporter = extract_all(
        {**config, "schema_include": ["sales", "spectrum*"], "schema_exclude": ["spectrum_broken"]}
    )
    assert {r.name for r in records if isinstance(r, SchemaRecord)} == {"sales", "spectrum"}
    assert {schema for schema, _ in tables_of(records)} == {"sales", "spectrum"}
    assert not [r for r in records if isinstance(r, ColumnRecord) and r.schema == "staging"]
    assert reporter.warnings == []  # the broken external schema was never read
    assert reporter.skipped_schemas == []


def test_patterns_typed_as_text_work_too(config):
    records, _ = extract_all({**config, "schema_include": "SALES, public"})
    assert {schema for schema, _ in tables_of(records)} == {"public", "sales"}


def test_a_user_who_cannot_read_svv_table_info_gets_the_catalog_with_a_warning(config, reader):
    records, reporter = extract_all({**config, "user": reader})
    assert any("svv_table_info" in w and "GRANT SELECT" in w for w in reporter.warnings)
    tables = tables_of(records)
    assert tables[("sales", "customers")].row_estimate is None
    assert tables[("sales", "daily_revenue")].kind == "materialized_view"
    assert [c.name for c in columns_of(records, "sales", "orders_lbv")] == ["order_id", "amount"]
    assert column(records, "sales", "returns", "ord").foreign_key is not None


def test_a_failed_optional_read_leaves_the_connection_usable_with_its_timeout(config):
    reporter = RecordingReporter()
    with redshift.redshift_connect(config) as conn:
        rows = redshift.read_optional(
            conn, "SELECT * FROM svv_external_tables", reporter=reporter, failure="Could not read"
        )
        timeout = conn.execute("SHOW statement_timeout").fetchone()[0]
        still_read_only = conn.execute("SHOW transaction_read_only").fetchone()[0]
    assert rows is None
    assert reporter.warnings[0].startswith("Could not read (Stand-in AWS Glue error")
    assert timeout == "5min"
    assert still_read_only == "on"


def test_queries_use_nothing_redshift_lacks(config, executed):
    extract_all(config)
    sent = [query for query, _ in executed]
    written = [value for name, value in vars(redshift).items() if name.endswith("_SQL")] + [
        STATEMENT_TIMEOUT_SQL
    ]
    for sql in sent + written:
        lowered = sql.lower()
        for missing in (
            "relispartition",
            "pg_partition_tree",
            "unnest",
            "lateral",
            "shobj_description",
            "reltuples",
        ):
            assert missing not in lowered, (missing, sql)
        for kinds in re.findall(r"relkind\s*(?:=|in)\s*\(?([^)\n]*)", lowered):
            assert set(re.findall(r"'(\w)'", kinds)) <= {"r", "v"}, sql
    assert "300000" in STATEMENT_TIMEOUT_SQL  # milliseconds: Redshift documents no units
    # Redshift rejects array bind parameters.
    for query, params in executed:
        for value in (params or {}).values():
            assert not isinstance(value, (list, tuple, set)), query


def test_a_wrong_password_gives_a_clear_error_without_the_password(password_cluster):
    secret = f"not-the-password-{uuid.uuid4().hex}"
    config = password_cluster.integration_config("postgres", password=secret)
    for attempt in (
        lambda: redshift.test_connection(config),
        lambda: list(redshift.extract(config, reporter=RecordingReporter())),
    ):
        with pytest.raises(ConnectorError) as caught:
            attempt()
        assert not isinstance(caught.value, TransientConnectorError)  # not worth retrying
        message = str(caught.value)
        assert "Authentication failed for user 'postgres'" in message
        assert f":{password_cluster.port}" in message
        assert "check the user name and password" in message
        assert secret not in message


def test_test_connection_names_the_server_and_counts_readable_schemas(config):
    # The stand-in is PostgreSQL and says so; Redshift's version() names Redshift.
    assert re.fullmatch(
        r"Connected to PostgreSQL [\d.]+; 5 schemas readable\.", redshift.test_connection(config)
    )
    version = (
        "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 "
        "(Red Hat 3.4.2-6.fc3), Redshift 1.0.63269"
    )
    assert redshift.server_name(version) == "Amazon Redshift 1.0.63269"


def test_the_form_and_config_default_to_redshifts_port_and_ssl_mode():
    fields = redshift.RedshiftForm.base_fields
    assert fields["port"].initial == 5439
    assert fields["sslmode"].initial == "require"
    assert list(fields) == [
        "host",
        "port",
        "database",
        "user",
        "password",
        "sslmode",
        "schema_include",
        "schema_exclude",
    ]
    assert redshift.with_defaults({"host": "h", "port": None, "sslmode": ""}) == {
        "host": "h",
        "port": 5439,
        "sslmode": "require",
    }
    assert redshift.with_defaults({"port": 5440, "sslmode": "verify-full"})["port"] == 5440


def test_the_registry_offers_redshift_as_a_warehouse():
    connector = get_connector("redshift")
    assert connector is redshift.CONNECTOR
    assert (connector.label, connector.is_warehouse) == ("Amazon Redshift", True)
    assert connector.secret_fields == ("password",)
    assert connector.aliases == ("redshift", "aws", "amazon")
