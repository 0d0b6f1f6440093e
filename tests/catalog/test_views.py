"""The Catalog tab, server side: table pages, editing with history, dbt pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from catalog.models import Column, DescriptionSource, EditRecord, Table
from catalog.services import dbt_apply
from integrations.models import SyncRun
from tests.factories import analyst_user
from tests.support.dbt_fixtures import one_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst_client(client):
    client.force_login(analyst_user())
    return client


def table(name: str) -> Table:
    return Table.objects.get(name=name)


def test_table_page_shows_breadcrumbs_dbt_panel_tests_and_lineage(analyst_client, jaffle_catalog):
    page = analyst_client.get(reverse("catalog:table", args=[table("customers").pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "jaffle_shop › " in body and "› analytics › customers" in body
    assert "This table has basic information about a customer" in body
    assert "Description from dbt." in body
    assert 'class="dbt-link"' in body and "/details/model.jaffle_shop.customers" in body
    assert "Materialization" in body and ">table<" in body
    assert 'class="highlight"' in body  # compiled SQL, highlighted
    assert 'data-column="customer_id"' in body and "unique" in body and "not_null" in body
    assert "<svg" in body and "stg_customers" in body and "Customer revenue dashboard" in body
    assert "Documented but missing" in body and "total_order_amount" in body


def test_snapshot_page_shows_the_failing_test_badge_and_history(analyst_client, jaffle_catalog):
    body = analyst_client.get(
        reverse("catalog:table", args=[table("raw_orders_snapshot").pk])
    ).content.decode()
    assert 'id="failing-badge"' in body and "1 failing test" in body
    assert 'data-test="not_null_raw_orders_snapshot_dbt_valid_to"' in body
    assert "Got 99 results, configured to fail if != 0" in body
    # The history names the job and links the run that failed it.
    failing = re.search(
        r'data-test="not_null_raw_orders_snapshot_dbt_valid_to".*?</details>', body, re.S
    ).group(0)
    assert 'data-history-status="fail"' in failing and "Prod nightly" in failing
    assert 'href="https://ab123.us1.dbt.com/runs/9001/"' in failing


@pytest.mark.parametrize("extra_runs", [0, 3])
def test_table_page_runs_a_fixed_number_of_queries(
    analyst_client, jaffle_catalog, django_assert_num_queries, extra_runs
):
    _, dbt = jaffle_catalog
    for i in range(extra_runs):  # more runs, history rows and edits do not add queries
        dbt_apply(
            integration=dbt,
            run=SyncRun.objects.create(integration=dbt, status="succeeded"),
            records=one_run(9100 + i, hour=6 + i),
        )
    url = reverse("catalog:table", args=[table("customers").pk])
    analyst_client.get(url)  # warm the session and permission caches
    with django_assert_num_queries(TABLE_PAGE_QUERIES):
        analyst_client.get(url)


# Session and user (2), permissions (2), the page's selectors (11: "Jobs that build it" is one
# query over each job's build facts), lineage (4 per depth level + labels).
TABLE_PAGE_QUERIES = 20


def test_an_analyst_edits_a_column_and_the_next_dbt_sync_keeps_it(analyst_client, jaffle_catalog):
    _, dbt = jaffle_catalog
    column = Column.objects.get(table__name="customers", name="first_name")
    old = column.description
    response = analyst_client.post(
        reverse("catalog:column-edit", args=[column.pk]),
        {"description": "Given name, as typed at checkout", "tags": "pii, name", "owners": ""},
    )
    assert response.status_code == 302
    column.refresh_from_db()
    assert (column.description, column.description_source) == (
        "Given name, as typed at checkout",
        DescriptionSource.USER,
    )
    assert column.tags == ["pii", "name"] and column.tags_source == DescriptionSource.USER
    edit = EditRecord.objects.get(column=column, field="description")
    assert (edit.old_value, edit.new_value, edit.user.username) == (
        old,
        "Given name, as typed at checkout",
        "ann-analyst",
    )

    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(9002, hour=6),
    )

    column.refresh_from_db()
    assert column.description == "Given name, as typed at checkout"
    body = analyst_client.get(reverse("catalog:table", args=[column.table_id])).content.decode()
    assert "Given name, as typed at checkout" in body and "ann-analyst" in body


def test_an_edit_that_changes_nothing_records_nothing(analyst_client, jaffle_catalog):
    t = table("orders")
    analyst_client.post(
        reverse("catalog:table-edit", args=[t.pk]),
        {"description": t.description, "tags": "", "owners": ""},
    )
    assert not EditRecord.objects.exists()


def test_people_without_the_permission_cannot_edit(client, django_user_model, jaffle_catalog):
    client.force_login(django_user_model.objects.create_user("guest", password="x"))
    t = table("orders")
    assert (
        client.post(reverse("catalog:table-edit", args=[t.pk]), {"description": "x"}).status_code
        == 403
    )
    assert table("orders").description == t.description


@pytest.mark.parametrize(
    "name, expected",
    [
        ("catalog:exposures", "customer_revenue_dashboard"),
        ("catalog:terms", "average_order_value"),
        ("catalog:groups", "finance"),
        ("catalog:jobs", "Prod nightly"),
        ("catalog:freshness", "raw_orders"),
    ],
)
def test_dbt_pages_list_what_dbt_brought(analyst_client, jaffle_catalog, name, expected):
    response = analyst_client.get(reverse(name))
    assert response.status_code == 200 and expected in response.content.decode()


def test_exposure_and_term_pages_show_their_tables(analyst_client, jaffle_catalog):
    from catalog.models import DbtExposure, DbtTerm

    exposure = DbtExposure.objects.get()
    body = analyst_client.get(reverse("catalog:exposure", args=[exposure.pk])).content.decode()
    assert all(
        f">analytics.{n}<" in body or f">analytics_marts.{n}<" in body
        for n in ("customers", "orders", "dim_dates")
    )
    term = DbtTerm.objects.get(name="order_total")
    body = analyst_client.get(reverse("catalog:term", args=[term.pk])).content.decode()
    assert "analytics.orders" in body and "Order total" in body


@pytest.mark.parametrize("query", ["customers", "order", ""])
def test_search_page_runs_a_fixed_number_of_queries(
    analyst_client, jaffle_catalog, django_assert_max_num_queries, query
):
    analyst_client.get("/catalog/?q=warm")
    # Session and user, the header's permission check (2), then at most one statement per
    # kind of hit (six kinds), whatever the number of hits.
    with django_assert_max_num_queries(SEARCH_PAGE_QUERIES):
        response = analyst_client.get(f"/catalog/?q={query}&kind=")
    assert response.status_code == 200


SEARCH_PAGE_QUERIES = 2 + 2 + 6


def test_search_page_says_what_is_wrong_with_a_filter(analyst_client, jaffle_catalog):
    response = analyst_client.get("/catalog/?q=x&kind=tables")
    assert response.status_code == 400
    assert "Unknown kind" in response.content.decode()
