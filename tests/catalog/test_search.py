"""catalog_search on the real jaffle_shop catalog: the warehouse synced from Postgres, then
enriched by dbt_apply with the real artifacts. Most tests run twice, once per way of matching:
PostgreSQL's indexed search and the fallback that SQLite uses (forced here on PostgreSQL)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from catalog.models import Column, Database, DbtNode, DbtTest, Schema, Table
from catalog.selectors.search import (
    COUNT_CAP,
    MAX_DEPTH,
    SearchFilters,
    SearchPage,
    catalog_search,
    parse_filters,
)
from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.support.dbt_fixtures import one_run

pytestmark = pytest.mark.django_db

OWNER = "finance-analytics@jaffle.example.com"


@dataclass
class Jaffle:
    warehouse: Integration
    dbt: Integration

    def table(self, name: str) -> Table:
        return Table.objects.get(integration=self.warehouse, name=name)


@pytest.fixture
def catalog(warehouse_config) -> Jaffle:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    dbt = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(),
    )
    return Jaffle(warehouse, dbt)


@pytest.fixture(params=["postgres", "fallback"])
def backend(request) -> str:
    return request.param


def search(backend: str, query: str = "", *, page=1, per_page=100, **filters) -> SearchPage:
    return catalog_search(
        query=query,
        filters=SearchFilters(**filters),
        page=page,
        per_page=per_page,
        backend=backend,
    )


def names(page: SearchPage, kind: str | None = None) -> list:
    if kind:
        return [h.name for h in page.hits if h.kind == kind]
    return [(h.kind, h.name) for h in page.hits]


# --- Matching and ranking -------------------------------------------------------------------


def test_customers_finds_the_customers_table_first_then_stg_and_raw_then_columns(catalog, backend):
    page = search(backend, "customers")

    first = page.hits[0]
    assert (first.kind, first.name, first.score) == ("table", "customers", 1.0)
    assert first.path.endswith(".analytics.customers")
    assert first.table_id == catalog.table("customers").pk
    assert first.description.startswith("This table has basic information about a customer")
    # Its dbt model is listed too, right after: same name, a later kind.
    assert (page.hits[1].kind, page.hits[1].name, page.hits[1].path) == (
        "dbt_model",
        "customers",
        "model.jaffle_shop.customers",
    )
    assert names(page, "table") == ["customers", "raw_customers", "stg_customers"]
    hits = names(page)
    column = hits.index(("column", "customer_id"))
    assert column > hits.index(("table", "raw_customers"))
    assert column > hits.index(("table", "stg_customers"))
    # Found by its description ("Foreign key to the customers table"), so last.
    assert column == len(hits) - 1
    assert page.hits[column].path.endswith(".analytics.orders.customer_id")
    assert page.hits[column].table_id == catalog.table("orders").pk
    assert page.hits[column].score == 0.25
    assert page.total == len(page.hits) == 14


def test_ranking_is_exact_name_then_prefix_then_contains_then_description(catalog, backend):
    page = search(backend, "order", kind="term")

    assert names(page) == [
        ("term", "order_count"),
        ("term", "order_total"),
        ("term", "orders"),
        ("term", "average_order_value"),
    ]
    assert [h.score for h in page.hits] == [0.75, 0.75, 0.75, 0.5]
    assert search(backend, "ORDER_TOTAL").hits[0].score == 1.0  # case does not matter


def test_a_word_of_a_description_finds_its_table(catalog, backend):
    page = search(backend, "basic information")

    assert names(page) == [
        ("table", "customers"),
        ("table", "orders"),
        ("dbt_model", "customers"),
        ("dbt_model", "orders"),
    ]
    assert {h.score for h in page.hits} == {0.25}
    assert names(search(backend, "cents")) == [("column", "amount")]  # raw_payments.amount


def test_a_tag_finds_dim_dates(catalog, backend):
    page = search(backend, "finance")

    assert names(page) == [
        ("table", "dim_dates"),
        ("dbt_model", "dim_dates"),
        ("exposure", "customer_revenue_dashboard"),
        ("term", "order_total"),
    ]
    assert page.hits[0].tags == ("calendar", "finance")
    assert page.hits[0].path.endswith(".analytics_marts.dim_dates")


def test_an_owners_email_finds_dim_dates(catalog, backend):
    page = search(backend, OWNER.upper())

    assert names(page)[:2] == [("table", "dim_dates"), ("dbt_model", "dim_dates")]
    assert page.hits[0].owners == (OWNER,)
    assert ("exposure", "customer_revenue_dashboard") in names(page)


def test_tests_exposures_and_terms_are_found(catalog, backend):
    revenue = search(backend, "revenue")
    assert names(revenue) == [("exposure", "customer_revenue_dashboard")]
    exposure = revenue.hits[0]
    assert exposure.path == "exposure.jaffle_shop.customer_revenue_dashboard"
    assert exposure.table_id is None  # it uses three tables: none to open
    assert exposure.owners == ("Finance Analytics", OWNER)

    term = search(backend, "order_total").hits[0]
    assert (term.kind, term.name, term.path) == (
        "term",
        "order_total",
        "metric.jaffle_shop.order_total",
    )
    assert term.table_id == catalog.table("orders").pk  # its only table

    tests = search(backend, "raw_orders_snapshot", kind="test")
    assert names(tests, "test") == [
        "not_null_raw_orders_snapshot_dbt_valid_to",
        "not_null_raw_orders_snapshot_id",
    ]
    assert {h.table_id for h in tests.hits} == {catalog.table("raw_orders_snapshot").pk}


def test_removed_objects_are_not_found(catalog, backend):
    customers = catalog.table("customers")
    Table.objects.filter(pk=customers.pk).update(removed=True)
    Column.objects.filter(table=customers).update(removed=True)
    DbtNode.objects.filter(table=customers).update(removed=True)
    DbtTest.objects.filter(table=customers).update(removed=True)

    page = search(backend, "customers")

    assert all(h.table_id != customers.pk for h in page.hits)
    assert names(page)[0] == ("table", "raw_customers")


def test_an_empty_query_without_filters_finds_nothing_and_asks_nothing(
    catalog, backend, django_assert_num_queries
):
    with django_assert_num_queries(0):
        page = search(backend, "   ")
    assert (page.hits, page.total, page.query) == ([], 0, "")


# --- Filters ----------------------------------------------------------------------------------


def test_kind_view_lists_the_staging_views_by_name(catalog, backend):
    views = search(backend, kind="view")

    assert names(views) == [
        ("table", "stg_customers"),
        ("table", "stg_orders"),
        ("table", "stg_payments"),
    ]
    assert {h.score for h in views.hits} == {0.0}
    assert names(search(backend, "orders", kind="view")) == [("table", "stg_orders")]
    assert names(search(backend, "customers", kind="table")) == [
        ("table", "customers"),
        ("table", "raw_customers"),
    ]
    assert {h.kind for h in search(backend, "customer", kind="column").hits} == {"column"}


def test_a_schema_filter_keeps_what_lives_in_that_schema(catalog, backend):
    page = search(backend, schema="analytics_marts")
    dim_dates = catalog.table("dim_dates").pk

    assert names(page, "table") == ["dim_dates"]
    assert names(page, "column") == [
        "date_day",
        "is_weekend",
        "iso_day_of_week",
        "month_start_date",
    ]
    assert names(page, "dbt_model") == ["dim_dates"]
    assert {h.table_id for h in page.hits if h.kind == "test"} == {dim_dates}
    assert names(page, "exposure") == ["customer_revenue_dashboard"]  # uses dim_dates
    assert names(page, "term") == []  # the metrics are on orders

    database = Database.objects.get(integration=catalog.warehouse).name
    in_database = search(backend, "customers", database=database, schema="analytics")
    assert names(in_database, "table") == ["customers", "raw_customers", "stg_customers"]
    assert search(backend, "customers", database="elsewhere").total == 0


def test_failing_tests_finds_raw_orders_snapshot(catalog, backend):
    assert names(search(backend, kind="table", failing_tests=True)) == [
        ("table", "raw_orders_snapshot")
    ]
    page = search(backend, failing_tests=True)

    assert names(page, "table") == ["raw_orders_snapshot"]
    assert names(page, "test") == ["not_null_raw_orders_snapshot_dbt_valid_to"]
    snapshot = catalog.table("raw_orders_snapshot").pk
    assert len(names(page, "column")) == 8
    assert {h.table_id for h in page.hits} == {snapshot}
    # raw_payments' test only warns; exposures and terms have no tests.
    assert {h.kind for h in page.hits} == {"table", "column", "test"}


def test_documented_false_lists_what_has_no_description(catalog, backend):
    undocumented = search(backend, documented=False)
    assert names(undocumented, "table") == ["stg_customers", "stg_orders", "stg_payments"]
    assert all(h.description == "" for h in undocumented.hits)
    documented = search(backend, kind="table", documented=True)
    assert len(documented.hits) == 7 and all(h.description for h in documented.hits)

    columns = search(backend, "customer_id", kind="column", documented=False)
    assert [h.path.split(".", 1)[1] for h in columns.hits] == [
        "analytics.stg_customers.customer_id",
        "analytics.stg_orders.customer_id",
    ]


def test_the_tag_filter_takes_whole_tags_ignoring_case(catalog, backend):
    page = search(backend, tag="PII")

    assert names(page) == [
        ("table", "raw_customers"),
        ("column", "first_name"),
        ("column", "last_name"),
    ]
    assert all(h.table_id == catalog.table("raw_customers").pk for h in page.hits)
    assert search(backend, tag="pi").total == 0
    assert names(search(backend, "dim", tag="finance")) == [
        ("table", "dim_dates"),
        ("dbt_model", "dim_dates"),
    ]


def test_the_owner_filter_takes_the_hits_own_owners(catalog, backend):
    page = search(backend, owner=OWNER.upper())

    assert names(page, "table") == ["dim_dates"]
    assert names(page, "dbt_model") == ["dim_dates"]
    assert names(page, "exposure") == ["customer_revenue_dashboard"]
    assert names(page, "term") == ["order_total"]
    # A test has no owner of its own: it takes its model's.
    tests = [h for h in page.hits if h.kind == "test"]
    assert tests and {h.table_id for h in tests} == {catalog.table("dim_dates").pk}
    assert {h.owners for h in tests} == {(OWNER,)}
    assert names(search(backend, owner="Finance Analytics")) == [
        ("exposure", "customer_revenue_dashboard")
    ]


def test_the_integration_filter(catalog, backend):
    everything = search(backend, integration_id=catalog.warehouse.pk, per_page=100, page=1)
    assert everything.total == 10 + 50 + 6 + 38 + 1 + 4  # dbt objects on its tables count

    dbt_only = search(backend, "orders", integration_id=catalog.dbt.pk)
    assert dbt_only.total > 0
    assert {h.kind for h in dbt_only.hits} <= {"dbt_model", "test", "exposure", "term"}

    assert search(backend, "orders", integration_id=catalog.dbt.pk + 100).total == 0


def test_pages_add_up_to_the_total(catalog, backend):
    everything = search(backend, "order", per_page=100)
    assert everything.total == len(everything.hits) > 30

    pages = [
        search(backend, "order", page=number, per_page=7)
        for number in range(1, math.ceil(everything.total / 7) + 1)
    ]
    assert [hit for page in pages for hit in page.hits] == everything.hits
    assert {page.total for page in pages} == {everything.total}
    assert [len(page.hits) for page in pages[:-1]] == [7] * (len(pages) - 1)

    past_the_end = search(backend, "order", page=len(pages) + 1, per_page=7)
    assert (past_the_end.hits, past_the_end.total) == ([], everything.total)
    assert search(backend, "order", per_page=1000).per_page == 100
    beyond_max_depth = search(backend, "order", page=MAX_DEPTH, per_page=7)
    assert (beyond_max_depth.hits, beyond_max_depth.page) == ([], MAX_DEPTH)
    assert beyond_max_depth.total == everything.total


# --- The two ways of matching ---------------------------------------------------------------

SAME_QUERIES = (
    "customers",
    "customer",
    "Customer's",
    "a customer",
    "order",
    "orders",
    "order_total",
    "status",
    "amount",
    "date",
    "valid",
    "dbt_valid_to",
    "Type-2 history",
    "(AUD)",
    "pii",
    "finance",
    "raw",
    "seed",
    "snapshot",
    "jaffle",
    "data-platform@jaffle.example.com",
    "Finance Analytics",
    "revenue",
    "zzz",
    "%",
    "_",
    "'",
    "\\",
    "customers:*",
    "!(a & b)",
)


def test_both_ways_of_matching_return_the_same_pages_on_jaffle_shop(catalog):
    for query in SAME_QUERIES:
        indexed = search("postgres", query)
        fallback = search("fallback", query)
        assert indexed.hits == fallback.hits, query
        assert indexed.total == fallback.total, query
    assert search("postgres", "%").total == 0


def test_postgres_finds_a_description_from_the_start_of_a_word_only(catalog):
    # "paid" holds "aid": the fallback finds the four payment columns whose description says
    # "paid for by ...", full-text search does not. Names still match anywhere.
    assert len(search("fallback", "aid").hits) == 4
    assert search("postgres", "aid").hits == []
    assert names(search("postgres", "ustomers", kind="table"))[0] == ("table", "customers")


def test_the_postgres_search_uses_the_search_indexes(catalog):
    # Enough rows that reading them all costs more than the indexes. What autovacuum would
    # do after a sync: move the GIN indexes' pending entries into the indexes, ANALYZE.
    grow(catalog, tables=2000, columns=2, name="filler")
    with connection.cursor() as cursor:
        for table in ("catalog_table", "catalog_column"):
            for index in ("fts", "name_trgm", "labels_trgm"):
                cursor.execute(f"SELECT gin_clean_pending_list('{table}_search_{index}')")
            cursor.execute(f"ANALYZE {table}")
    with CaptureQueriesContext(connection) as captured:
        search("postgres", "customers", kind="table")
        search("postgres", "customers", kind="column")
    with connection.cursor() as cursor:
        plans = []
        for statement in captured.captured_queries:
            cursor.execute("EXPLAIN " + statement["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    for table, plan in zip(("catalog_table", "catalog_column"), plans, strict=True):
        for index in ("sort", "name_trgm", "fts", "labels_trgm"):
            assert f"{table}_search_{index}" in plan, f"{table}_search_{index} unused:\n{plan}"


def test_the_search_backend_is_checked(catalog):
    with pytest.raises(ValueError, match="Unknown search backend"):
        catalog_search(query="x", backend="elastic")


# --- Statements ---------------------------------------------------------------------------


def grow(catalog: Jaffle, tables: int, columns: int, name: str = "customers") -> None:
    """More tables named {name}_<n>, with columns, dbt models and failing tests."""
    database = Database.objects.get(integration=catalog.warehouse)
    schema = Schema.objects.create(
        integration=catalog.warehouse, database=database, name=f"analytics_{name}"
    )
    new_tables = Table.objects.bulk_create(
        Table(
            integration=catalog.warehouse,
            schema=schema,
            name=f"{name}_{n}",
            description=f"More {name}.",
            tags=["finance"],
        )
        for n in range(tables)
    )
    Column.objects.bulk_create(
        Column(integration=catalog.warehouse, table=t, name=f"{name}_{n}", ordinal=n)
        for t in new_tables
        for n in range(columns)
    )
    nodes = DbtNode.objects.bulk_create(
        DbtNode(
            integration=catalog.dbt,
            unique_id=f"model.more.{t.name}",
            resource_type="model",
            name=t.name,
            table=t,
        )
        for t in new_tables
    )
    DbtTest.objects.bulk_create(
        DbtTest(
            integration=catalog.dbt,
            unique_id=f"test.more.not_null_{n.name}",
            name=f"not_null_{n.name}",
            test_type="generic",
            node=n,
            table_id=n.table_id,
            status="fail",
        )
        for n in nodes
    )


def test_a_search_sends_the_same_statements_whatever_the_size_of_the_catalog(
    catalog, backend, django_assert_num_queries
):
    def statements() -> list[int]:
        counts = []
        for query, filters in (
            ("customers", {}),
            ("customers", {"failing_tests": True}),
            ("customers", {"kind": "column"}),
            ("", {"tag": "finance"}),
        ):
            with CaptureQueriesContext(connection) as captured:
                search(backend, query, per_page=25, **filters)
            counts.append(len(captured))
        return counts

    small = statements()
    assert small == [6, 4, 1, 6]  # a statement per kind looked at
    grow(catalog, tables=120, columns=15)
    assert statements() == small
    with django_assert_num_queries(6):
        page = search(backend, "customers", page=3, per_page=25)
    # Tables, models and tests named customers_<n>; columns too, counted up to COUNT_CAP.
    assert page.total == 13 + 120 * 3 + COUNT_CAP and page.total_capped
    assert len(page.hits) == 25


# --- GET parameters ---------------------------------------------------------------------------


def test_parse_filters_reads_get_parameters():
    params = QueryDict(
        "q=orders&page=2&integration=3&database=warehouse&schema=analytics&kind=view"
        "&tag=finance&owner=a%40b.example&failing=1&documented=false"
    )
    assert parse_filters(params) == SearchFilters(
        integration_id=3,
        database="warehouse",
        schema="analytics",
        kind="view",
        tag="finance",
        owner="a@b.example",
        failing_tests=True,
        documented=False,
    )
    assert parse_filters({}) == SearchFilters()
    blank = {"integration": "", "kind": "", "failing": "", "documented": "", "tag": "  "}
    assert parse_filters(blank) == SearchFilters()
    assert parse_filters({"documented": "yes", "failing": "off"}) == SearchFilters(documented=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"integration": "abc"}, "integration must be an integration's number, not 'abc'"),
        ({"integration": "-1"}, "integration must be"),
        ({"integration": "0"}, "integration must be"),
        ({"kind": "tables"}, "Unknown kind 'tables': use one of table, view,"),
        ({"failing": "maybe"}, "failing must be true or false, not 'maybe'"),
        ({"documented": "perhaps"}, "documented must be true or false"),
    ],
)
def test_parse_filters_refuses_bad_values_with_a_clear_message(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_filters(params)
