"""An analyst finds a table, understands it through dbt's metadata and lineage, and
documents a column; the edit survives a reload and another dbt sync."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from catalog.services import dbt_apply
from integrations.models import SyncRun
from tests.browser.conftest import log_in
from tests.catalog.conftest import build_jaffle_catalog
from tests.factories import analyst_user
from tests.support.dbt_fixtures import one_run

pytestmark = pytest.mark.browser


def test_analyst_searches_reads_lineage_and_edits_a_column(
    page, live_server, transactional_db, warehouse_config, screenshots
):
    _warehouse, dbt = build_jaffle_catalog(warehouse_config)
    analyst_user()
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")

    page.fill("#search-form input[name=q]", "customers")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#results tbody tr").first).to_contain_text("customers")
    page.screenshot(path=screenshots / "08-search-customers.png", full_page=True)
    page.locator("#results tbody tr").first.locator("a").click()

    expect(page.locator("#content h1")).to_contain_text("customers")
    expect(page.locator("#table-description")).to_contain_text("basic information about a customer")
    expect(page.locator("#breadcrumbs")).to_contain_text("analytics")
    svg = page.locator("#lineage svg")
    expect(svg).to_be_visible()
    expect(svg).to_contain_text("stg_customers")
    expect(svg).to_contain_text("Customer revenue dashboard")
    page.screenshot(path=screenshots / "09-table-customers.png", full_page=True)

    # Lineage is clickable: stg_customers opens its own page.
    svg.locator("a", has_text="stg_customers").first.click()
    expect(page.locator("#content h1")).to_contain_text("stg_customers")
    page.go_back()

    page.goto(f"{live_server.url}/catalog/?q=raw_orders_snapshot")
    page.locator("#results tbody tr").first.locator("a").click()
    expect(page.locator("#failing-badge")).to_contain_text("1 failing test")
    expect(page.locator('[data-test="not_null_raw_orders_snapshot_dbt_valid_to"]')).to_contain_text(
        "fail"
    )
    page.screenshot(path=screenshots / "10-table-snapshot-failing.png", full_page=True)

    page.goto(f"{live_server.url}/catalog/?q=customers")
    page.locator("#results tbody tr").first.locator("a").click()
    page.locator('tr[data-column="first_name"] a.edit-column').click()
    page.fill("#id_description", "Given name, as typed at checkout")
    page.click("#edit-form input[type=submit]")
    row = page.locator('tr[data-column="first_name"]')
    expect(row.locator(".column-description")).to_contain_text("Given name, as typed at checkout")
    page.reload()
    expect(row.locator(".column-description")).to_contain_text("Given name, as typed at checkout")

    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(9002, hour=6),
    )
    page.reload()
    expect(row.locator(".column-description")).to_contain_text("Given name, as typed at checkout")
    expect(page.locator("#changes")).to_contain_text("ann-analyst")
    page.screenshot(path=screenshots / "11-table-after-edit-and-sync.png", full_page=True)
