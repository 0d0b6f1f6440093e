"""An admin connects the jaffle_shop warehouse and watches it sync; an analyst browses."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from catalog.models import Table
from integrations.models import Integration, SyncRun
from tests.browser.conftest import log_in
from tests.factories import admin_user, analyst_user, dbt_cloud_account

pytestmark = [pytest.mark.worker, pytest.mark.browser]


def card(page, key: str):
    return page.locator(f'.card[data-connector="{key}"]')


def test_admin_connects_a_warehouse_watches_it_sync_then_dbt_cloud_opens(
    page, live_server, worker, warehouse_config, dbt_cloud, screenshots
):
    admin_user()
    log_in(page, live_server, "alice-admin", "pw-for-tests-1")

    page.click("nav.tabs >> text=Integrations")
    expect(page.locator("#content h1")).to_have_text("Integrations")
    page.screenshot(path=screenshots / "01-integrations-empty.png", full_page=True)
    page.click("#add-integration")
    expect(page).to_have_url(re.compile(r"/integrations/new/$"))

    page.fill("#gallery-search", "dbt")
    expect(card(page, "dbt_cloud")).to_be_visible()
    expect(card(page, "postgres")).to_be_hidden()
    expect(card(page, "dbt_cloud")).to_have_attribute("aria-disabled", "true")
    expect(card(page, "dbt_cloud").locator(".reason")).to_contain_text("Connect a warehouse")
    expect(card(page, "dbt_cloud").locator("h3 a")).to_have_count(0)
    assert page.url.endswith("?q=dbt")  # filtered in place, no reload needed
    page.screenshot(path=screenshots / "02-gallery-dbt-disabled.png", full_page=True)

    page.fill("#gallery-search", "postgres")
    expect(card(page, "dbt_cloud")).to_be_hidden()
    expect(card(page, "postgres")).to_be_visible()
    card(page, "postgres").locator("h3 a").click()

    page.fill("#id_name", "jaffle_shop")
    page.fill("#id_host", warehouse_config["host"])
    page.fill("#id_port", str(warehouse_config["port"]))
    page.fill("#id_database", warehouse_config["database"])
    page.fill("#id_user", warehouse_config["user"])
    page.select_option("#id_sslmode", "disable")
    page.click("#test-connection")
    expect(page.locator("#test-result")).to_contain_text("Connected to PostgreSQL")
    page.screenshot(path=screenshots / "03-connect-postgres-tested.png", full_page=True)
    page.click("#connect-form input[name=_save]")
    expect(page.locator("#content h1")).to_contain_text("jaffle_shop")
    integration = Integration.objects.get(name="jaffle_shop")

    page.click("#sync-now")
    expect(page.locator('#sync-progress[data-status="succeeded"]')).to_be_visible(timeout=60_000)
    expect(page.locator("#sync-progress .progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#history tbody tr").first).to_contain_text("Succeeded")
    page.screenshot(path=screenshots / "04-integration-synced.png", full_page=True)
    assert SyncRun.objects.get(integration=integration).status == SyncRun.Status.SUCCEEDED
    assert Table.objects.filter(integration=integration).count() == 10

    page.goto(f"{live_server.url}/integrations/new/?q=dbt")
    expect(card(page, "dbt_cloud")).not_to_have_attribute("aria-disabled", "true")
    card(page, "dbt_cloud").locator("h3 a").click()
    page.fill("#id_name", "dbt prod")
    page.fill("#id_account_id", "0")
    page.fill("#id_access_url", "http://cloud.getdbt.com")
    page.fill("#id_token", "dbtc_typed_token")
    page.click("#connect-form input[name=_save]")
    expect(page.locator("#id_account_id-errors")).to_contain_text("greater than or equal to 1")
    expect(page.locator("#id_access_url-errors")).to_contain_text("must start with https://")
    expect(page.locator("#id_name")).to_have_value("dbt prod")
    expect(page.locator("#id_token")).to_have_value("")
    page.screenshot(path=screenshots / "05-dbt-cloud-form-errors.png", full_page=True)
    assert not Integration.objects.filter(connector="dbt_cloud").exists()

    dbt_cloud_account(dbt_cloud)
    page.fill("#id_account_id", "7")
    page.fill("#id_access_url", dbt_cloud.url)
    page.fill("#id_token", dbt_cloud.state.token)
    page.click("#test-connection")
    expect(page.locator("#test-result")).to_contain_text("Type the service token again")
    jobs = page.locator('[data-field="job_ids"]')
    expect(jobs.get_by_label("Nightly build — Production · scheduled")).to_be_visible()
    expect(page.locator("#id_token")).to_have_value("")
    page.screenshot(path=screenshots / "05b-dbt-cloud-jobs-listed.png", full_page=True)
    jobs.get_by_label("Nightly build — Production · scheduled").check()
    page.fill("#id_token", dbt_cloud.state.token)
    page.click("#connect-form input[name=_save]")
    expect(page.locator("#content h1")).to_have_text("dbt prod")
    assert Integration.objects.get(connector="dbt_cloud").config["job_ids"] == ["7000"]


def test_analyst_browses_the_catalog_sees_no_credentials_and_cannot_connect(
    page, live_server, transactional_db, warehouse_config, screenshots
):
    from integrations.services import integration_create, sync_execute

    integration = integration_create(
        connector_key="postgres",
        name="jaffle_shop",
        config={**warehouse_config, "password": "an-Hidden-pw"},
    )
    sync_execute(run=SyncRun.objects.create(integration=integration))
    analyst_user()
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")

    page.fill("#search-form input[name=q]", "customers")
    page.click("#search-form button[type=submit]")
    page.locator("#results tbody tr").first.locator("a").click()
    expect(page.locator("#columns")).to_contain_text("customer_id")
    page.screenshot(path=screenshots / "06-analyst-table.png", full_page=True)

    page.click("nav.tabs >> text=Integrations")
    expect(page.locator("#integrations")).to_contain_text("jaffle_shop")
    expect(page.locator("#add-integration")).to_have_count(0)
    page.click("#integrations >> text=jaffle_shop")
    content = page.content()
    assert "an-Hidden-pw" not in content and warehouse_config["database"] not in content
    expect(page.locator("#sync-now")).to_have_count(0)
    page.screenshot(path=screenshots / "07-analyst-integration.png", full_page=True)

    response = page.goto(f"{live_server.url}/integrations/new/postgres/")
    assert response.status == 403
