"""The BigQuery connector with the real google-cloud-bigquery client pointed at a local
stand-in of the REST API (tests/support/bigquery_standin.py): what `extract` yields, how API
errors are classified, what the form accepts, and a full sync through the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.connectors import bigquery, get_connector, registry_entry
from integrations.connectors.base import (
    ColumnRecord,
    ColumnRef,
    ConnectorError,
    DatabaseRecord,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
)
from tests.support.bigquery_standin import BigQueryStandin, field_json
from tests.support.postgres import free_port
from tests.support.reporting import RecordingReporter

PROJECT = "acme-analytics"
MODIFIED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def key_json(private_key_pem) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123abcd",
            "private_key": private_key_pem,
            "client_email": f"catalog@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def standin():
    with BigQueryStandin() as server:
        yield server


@pytest.fixture
def shop(standin):
    """A project with a sales dataset of every kind of table and a second, staging dataset."""
    standin.add_dataset(PROJECT, "sales", description="Orders and customers", labels={"t": "x"})
    standin.add_table(
        PROJECT,
        "sales",
        "Orders",
        description="One row per order.",
        num_rows=1234,
        num_bytes=98765,
        modified=MODIFIED,
        labels={"team": "sales"},
        time_partitioning={"type": "DAY", "field": "created_at"},
        clustering=["customer_id"],
        fields=[
            field_json("id", "INTEGER", "REQUIRED", "Order id"),
            field_json("customer_id", "INTEGER"),
            field_json("amount", "NUMERIC", precision="10", scale="2"),
            field_json(
                "shipping",
                "RECORD",
                description="Where it goes",
                fields=[
                    field_json("city", "STRING", maxLength="40"),
                    field_json(
                        "geo",
                        "RECORD",
                        fields=[field_json("lat", "FLOAT", "REQUIRED"), field_json("lng")],
                    ),
                ],
            ),
            field_json("lines", "RECORD", "REPEATED", fields=[field_json("sku", mode="REQUIRED")]),
            field_json("tags", "STRING", "REPEATED"),
            field_json("created_at", "TIMESTAMP", defaultValueExpression="CURRENT_TIMESTAMP()"),
        ],
        table_constraints={
            "primaryKey": {"columns": ["id"]},
            "foreignKeys": [
                {
                    "name": "fk_customer",
                    "referencedTable": {
                        "projectId": PROJECT,
                        "datasetId": "sales",
                        "tableId": "customers",
                    },
                    "columnReferences": [
                        {"referencingColumn": "customer_id", "referencedColumn": "id"}
                    ],
                }
            ],
        },
    )
    standin.add_table(
        PROJECT, "sales", "customers", num_rows=2, fields=[field_json("id", "INTEGER")]
    )
    standin.add_table(
        PROJECT,
        "sales",
        "big_orders",
        type_="VIEW",
        view_query="SELECT * FROM `acme-analytics.sales.Orders` WHERE amount > 100",
        fields=[field_json("id", "INTEGER")],
    )
    standin.add_table(
        PROJECT,
        "sales",
        "daily_totals",
        type_="MATERIALIZED_VIEW",
        num_rows=30,
        mview_query="SELECT DATE(created_at) d, SUM(amount) t FROM sales.Orders GROUP BY 1",
        fields=[field_json("d", "DATE"), field_json("t", "NUMERIC")],
    )
    standin.add_table(PROJECT, "sales", "raw_files", type_="EXTERNAL", num_rows=0)
    standin.add_table(PROJECT, "sales", "orders_20260101", type_="SNAPSHOT", num_rows=1000)
    standin.add_dataset(PROJECT, "staging_tmp")
    standin.add_table(PROJECT, "staging_tmp", "scratch", fields=[field_json("x")])
    return standin


def config_for(standin: BigQueryStandin, **extra) -> dict:
    return {"projects": [PROJECT], "api_endpoint": standin.url, **extra}


class Extracted:
    def __init__(self, records: list, reporter: RecordingReporter) -> None:
        self.records = records
        self.reporter = reporter
        self.databases = [r for r in records if isinstance(r, DatabaseRecord)]
        self.schemas = {(r.database, r.name): r for r in records if isinstance(r, SchemaRecord)}
        self.tables = {(r.schema, r.name): r for r in records if isinstance(r, TableRecord)}
        self.columns = [r for r in records if isinstance(r, ColumnRecord)]

    def columns_of(self, schema: str, table: str) -> list[ColumnRecord]:
        found = [c for c in self.columns if (c.schema, c.table) == (schema, table)]
        return sorted(found, key=lambda c: c.ordinal)


def extract(config: dict) -> Extracted:
    reporter = RecordingReporter()
    return Extracted(list(bigquery.extract(config, reporter=reporter)), reporter)


def test_each_project_is_a_database_and_each_dataset_a_schema(shop):
    got = extract(config_for(shop))

    assert got.databases == [DatabaseRecord(name=PROJECT)]
    assert got.schemas == {
        (PROJECT, "sales"): SchemaRecord(PROJECT, "sales", description="Orders and customers"),
        (PROJECT, "staging_tmp"): SchemaRecord(PROJECT, "staging_tmp"),
    }


def test_tables_carry_kind_description_rows_last_modified_and_keep_their_case(shop):
    got = extract(config_for(shop))

    orders = got.tables[("sales", "Orders")]
    assert (orders.database, orders.kind, orders.description) == (
        PROJECT,
        "table",
        "One row per order.",
    )
    assert (orders.row_estimate, orders.last_altered) == (1234, MODIFIED)
    assert {name: t.kind for (_, name), t in got.tables.items()} == {
        "Orders": "table",
        "customers": "table",
        "big_orders": "view",
        "daily_totals": "materialized_view",
        "raw_files": "external_table",
        "orders_20260101": "table",
        "scratch": "table",
    }


def test_views_and_materialized_views_carry_their_queries(shop):
    got = extract(config_for(shop))

    view = got.tables[("sales", "big_orders")]
    assert view.definition == "SELECT * FROM `acme-analytics.sales.Orders` WHERE amount > 100"
    assert view.row_estimate is None
    mview = got.tables[("sales", "daily_totals")]
    assert mview.definition.startswith("SELECT DATE(created_at) d")
    assert mview.row_estimate == 30
    assert got.tables[("sales", "Orders")].definition == ""


def test_nested_records_are_flattened_with_types_modes_and_descriptions(shop):
    got = extract(config_for(shop))

    columns = got.columns_of("sales", "Orders")
    assert [(c.ordinal, c.name, c.data_type, c.nullable) for c in columns] == [
        (1, "id", "INTEGER", False),
        (2, "customer_id", "INTEGER", True),
        (3, "amount", "NUMERIC(10, 2)", True),
        (4, "shipping", "RECORD", True),
        (5, "shipping.city", "STRING(40)", True),
        (6, "shipping.geo", "RECORD", True),
        (7, "shipping.geo.lat", "FLOAT", False),
        (8, "shipping.geo.lng", "STRING", True),
        (9, "lines", "ARRAY<RECORD>", True),
        (10, "lines.sku", "STRING", False),
        (11, "tags", "ARRAY<STRING>", True),
        (12, "created_at", "TIMESTAMP", True),
    ]
    by_name = {c.name: c for c in columns}
    assert by_name["id"].description == "Order id"
    assert by_name["shipping"].description == "Where it goes"
    assert by_name["created_at"].default == "CURRENT_TIMESTAMP()"


def test_declared_primary_and_foreign_keys_are_reported(shop):
    got = extract(config_for(shop))

    by_name = {c.name: c for c in got.columns_of("sales", "Orders")}
    assert by_name["id"].is_primary_key and not by_name["customer_id"].is_primary_key
    assert by_name["customer_id"].foreign_key == ColumnRef(PROJECT, "sales", "customers", "id")


def test_tables_come_before_their_columns(shop):
    got = extract(config_for(shop))

    kinds = [(type(r).__name__, getattr(r, "table", getattr(r, "name", ""))) for r in got.records]
    first_column = kinds.index(("ColumnRecord", "Orders"))
    assert kinds.index(("TableRecord", "Orders")) < first_column


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ([], [], {"sales", "staging_tmp"}),
        (["sal*"], [], {"sales"}),
        ([], ["*_tmp"], {"sales"}),
        (["s*"], ["STAGING*"], {"sales"}),
    ],
)
def test_dataset_patterns_select_datasets_and_exclude_wins(shop, include, exclude, expected):
    got = extract(config_for(shop, dataset_include=include, dataset_exclude=exclude))

    assert {name for _, name in got.schemas} == expected
    assert {schema for schema, _ in got.tables} == expected


def test_location_keeps_only_the_datasets_there(shop):
    shop.add_dataset(PROJECT, "eu_sales", location="EU")
    shop.add_table(PROJECT, "eu_sales", "orders")

    got = extract(config_for(shop, location="eu"))

    assert set(got.schemas) == {(PROJECT, "eu_sales")}
    assert set(got.tables) == {("eu_sales", "orders")}


def test_lists_are_followed_across_pages(standin):
    standin.state.page_size = 2
    for d in range(3):
        standin.add_dataset(PROJECT, f"ds{d}")
    for t in range(5):
        standin.add_table(PROJECT, "ds1", f"t{t}")

    got = extract(config_for(standin))

    assert {name for _, name in got.schemas} == {"ds0", "ds1", "ds2"}
    assert sorted(name for _, name in got.tables) == ["t0", "t1", "t2", "t3", "t4"]
    tokens = [
        r["query"].get("pageToken")
        for r in standin.state.requests
        if r["path"].endswith("/datasets/ds1/tables")
    ]
    assert tokens == [None, ["2"], ["4"]]


def test_several_projects_are_several_databases(shop):
    shop.add_dataset("acme-marketing", "ads")
    shop.add_table("acme-marketing", "ads", "campaigns")

    got = extract(config_for(shop, projects=[PROJECT, "acme-marketing"]))

    assert [d.name for d in got.databases] == [PROJECT, "acme-marketing"]
    campaigns = got.tables[("ads", "campaigns")]
    assert campaigns.database == "acme-marketing"


def test_progress_counts_tables_and_ends_at_done_equals_total(shop):
    got = extract(config_for(shop))

    assert got.reporter.progress_calls == [(i, 7) for i in range(8)]


def test_an_empty_project_reports_zero_of_zero(standin):
    standin.add_project(PROJECT)

    got = extract(config_for(standin))

    assert got.databases == [DatabaseRecord(PROJECT)]
    assert got.reporter.progress_calls == [(0, 0)]


def test_the_client_calls_only_the_metadata_paths(shop):
    extract(config_for(shop, dataset_include=["staging_tmp"]))

    base = f"/bigquery/v2/projects/{PROJECT}/datasets"
    assert shop.paths() == [
        base,
        f"{base}/staging_tmp",
        f"{base}/staging_tmp/tables",
        f"{base}/staging_tmp/tables/scratch",
    ]
    assert all(r["query"]["prettyPrint"] == ["false"] for r in shop.state.requests)


def test_unknown_project_is_a_permanent_error_naming_it(standin, key_json):
    with pytest.raises(ConnectorError) as caught:
        extract(config_for(standin, projects=["no-such-project"], service_account_json=key_json))

    assert not isinstance(caught.value, TransientConnectorError)
    message = str(caught.value)
    assert "no-such-project" in message and "check the project id" in message
    assert "PRIVATE KEY" not in message and "0123abcd" not in message


def test_denied_project_is_a_permanent_error_naming_the_roles(shop, key_json):
    shop.deny(PROJECT)

    with pytest.raises(ConnectorError) as caught:
        extract(config_for(shop, service_account_json=key_json))

    assert not isinstance(caught.value, TransientConnectorError)
    message = str(caught.value)
    assert "BigQuery Metadata Viewer" in message and PROJECT in message
    assert "PRIVATE KEY" not in message and "0123abcd" not in message


def test_a_dataset_whose_tables_are_denied_is_skipped_with_a_warning(shop):
    shop.fail("/datasets/staging_tmp/tables", 403, "Access Denied: Dataset staging_tmp")

    got = extract(config_for(shop))

    assert got.reporter.skipped_schemas == [(PROJECT, "staging_tmp")]
    assert "BigQuery Metadata Viewer" in got.reporter.warnings[0]
    assert ("staging_tmp", "scratch") not in got.tables
    assert ("sales", "Orders") in got.tables


def test_a_denied_table_is_a_warning_and_the_rest_is_read(shop):
    shop.deny(f"{PROJECT}/sales/customers")

    got = extract(config_for(shop))

    assert ("sales", "customers") not in got.tables
    assert ("sales", "Orders") in got.tables
    assert len(got.reporter.warnings) == 1 and "customers" in got.reporter.warnings[0]


def test_a_table_dropped_after_the_listing_is_left_out_quietly(shop):
    shop.fail("/tables/customers", 404, "Not found: Table acme-analytics:sales.customers")

    got = extract(config_for(shop))

    assert ("sales", "customers") not in got.tables
    assert got.reporter.warnings == []


def test_a_passing_server_error_is_retried_by_the_client(shop):
    shop.fail("/tables/Orders", 503, "Service unavailable")

    got = extract(config_for(shop))

    assert ("sales", "Orders") in got.tables
    assert shop.paths().count(f"/bigquery/v2/projects/{PROJECT}/datasets/sales/tables/Orders") == 2


def test_a_lasting_server_error_is_transient(shop, monkeypatch):
    monkeypatch.setattr(bigquery, "RETRY_DEADLINE", 0.2)
    shop.fail("/datasets", 500, "Backend error", times=100)

    with pytest.raises(TransientConnectorError) as caught:
        extract(config_for(shop))

    assert PROJECT in str(caught.value)


def test_a_closed_port_is_transient(monkeypatch):
    monkeypatch.setattr(bigquery, "RETRY_DEADLINE", 0.2)
    config = {"projects": [PROJECT], "api_endpoint": f"http://127.0.0.1:{free_port()}"}

    with pytest.raises(TransientConnectorError, match="Could not reach BigQuery"):
        extract(config)


def test_test_connection_counts_readable_datasets(shop):
    assert bigquery.test_connection(config_for(shop)) == (
        "Connected to BigQuery; 2 datasets readable in 1 project."
    )


def test_extract_calls_nothing_until_it_is_iterated(shop):
    records = bigquery.extract(config_for(shop), reporter=RecordingReporter())

    assert shop.paths() == []
    next(records)


def test_a_stored_key_that_cannot_be_read_is_a_permanent_error_without_the_key():
    config = {"projects": [PROJECT], "service_account_json": '{"type": "x", "private_key": "k"}'}

    with pytest.raises(ConnectorError) as caught:
        list(bigquery.extract(config, reporter=RecordingReporter()))

    assert "paste the key file again" in str(caught.value)
    assert '"k"' not in str(caught.value)


def test_a_real_key_builds_service_account_credentials(key_json):
    client = bigquery.make_client({"projects": [PROJECT], "service_account_json": key_json})

    assert client.project == PROJECT
    assert client._credentials.service_account_email == (
        f"catalog@{PROJECT}.iam.gserviceaccount.com"
    )


# -- the form ----------------------------------------------------------------------------


def form_data(**extra) -> dict:
    return {"projects": f"{PROJECT}\nexample.com:legacy-proj", **extra}


def test_form_accepts_a_good_key_and_cleans_lists(key_json):
    form = bigquery.BigQueryForm(
        data=form_data(
            service_account_json=key_json,
            dataset_include="sales*, crm",
            location=" EU ",
        )
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["projects"] == [PROJECT, "example.com:legacy-proj"]
    assert form.cleaned_data["dataset_include"] == ["sales*", "crm"]
    assert form.cleaned_data["dataset_exclude"] == []
    assert form.cleaned_data["location"] == "EU"
    assert json.loads(form.cleaned_data["service_account_json"])["client_email"].startswith(
        "catalog@"
    )
    assert "PRIVATE KEY" not in str(form["service_account_json"])
    assert "api_endpoint" not in form.cleaned_data


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda key: "{not json", "This is not JSON"),
        (lambda key: json.dumps({**json.loads(key), "type": "authorized_user"}), "not a service"),
        (lambda key: json.dumps([1, 2]), "not a service account key"),
        (
            lambda key: json.dumps(
                {k: v for k, v in json.loads(key).items() if k != "private_key"}
            ),
            "lacks private_key",
        ),
        (
            lambda key: json.dumps({**json.loads(key), "client_email": ""}),
            "lacks client_email",
        ),
        (
            lambda key: json.dumps({**json.loads(key), "private_key": "-----BEGIN nonsense"}),
            "private_key could not be read",
        ),
    ],
)
def test_form_rejects_a_bad_key_without_echoing_it(key_json, mutate, expected):
    bad = mutate(key_json)
    form = bigquery.BigQueryForm(data=form_data(service_account_json=bad))

    assert not form.is_valid()
    errors = " ".join(form.errors["service_account_json"])
    assert expected in errors
    assert "PRIVATE KEY" not in errors and "nonsense" not in errors
    assert "PRIVATE KEY" not in str(form["service_account_json"])


@pytest.mark.parametrize("projects", ["", "Acme Analytics", "123 456", "acme_analytics"])
def test_form_wants_project_ids(key_json, projects):
    form = bigquery.BigQueryForm(data={"projects": projects, "service_account_json": key_json})

    assert not form.is_valid()
    assert "projects" in form.errors


def test_the_registry_offers_the_connector_with_its_driver():
    entry = registry_entry("bigquery")

    assert entry.available, entry.unavailable_reason
    connector = get_connector("bigquery")
    assert (connector.label, connector.category, connector.identifier_case) == (
        "Google BigQuery",
        "warehouse",
        "sensitive",
    )
    assert connector.aliases == ("bq", "bigquery", "gcp", "google")
    assert connector.secret_fields == ("service_account_json",)
    assert connector.driver_package == "google-cloud-bigquery"


@pytest.mark.django_db
def test_a_full_sync_through_the_service_fills_the_catalog(shop, key_json):
    from catalog.models import Column, Table
    from integrations.models import SyncRun
    from integrations.services import SyncOutcome, integration_create, sync_execute

    integration = integration_create(
        connector_key="bigquery",
        name="acme bigquery",
        config={
            "projects": PROJECT,
            "service_account_json": key_json,
            "dataset_include": "sales",
            "api_endpoint": shop.url,
        },
        test_connection=False,
    )
    # The form drops what is not one of its fields: the endpoint is set in code only.
    assert "api_endpoint" not in integration.config
    integration.config = {**integration.config, "api_endpoint": shop.url}
    integration.save()

    assert sync_execute(run=SyncRun.objects.create(integration=integration)) is (
        SyncOutcome.SUCCEEDED
    )

    tables = Table.objects.filter(integration=integration)
    assert {(t.schema.database.name, t.schema.name, t.name, t.kind) for t in tables} == {
        (PROJECT, "sales", "Orders", "table"),
        (PROJECT, "sales", "customers", "table"),
        (PROJECT, "sales", "big_orders", "view"),
        (PROJECT, "sales", "daily_totals", "materialized_view"),
        (PROJECT, "sales", "raw_files", "external_table"),
        (PROJECT, "sales", "orders_20260101", "table"),
    }
    columns = Column.objects.filter(integration=integration, table__name="Orders")
    assert [c.name for c in columns.order_by("ordinal")][3:8] == [
        "shipping",
        "shipping.city",
        "shipping.geo",
        "shipping.geo.lat",
        "shipping.geo.lng",
    ]
    customer = columns.get(name="customer_id")
    assert customer.foreign_key is not None and customer.foreign_key.table.name == "customers"
    orders = tables.get(name="Orders")
    # Labels become the table's tags, from the warehouse; partitioning, clustering and
    # size are kept as properties.
    assert (orders.tags, orders.tags_source) == (["team:sales"], "warehouse")
    assert orders.properties == {
        "partitioning": {"type": "DAY", "field": "created_at"},
        "clustering": ["customer_id"],
        "bytes": 98765,
    }
    run = SyncRun.objects.get(integration=integration)
    assert (run.status, run.progress_done, run.progress_total) == ("succeeded", 6, 6)
