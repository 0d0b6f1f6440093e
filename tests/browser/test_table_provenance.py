"""In Chromium, an analyst reads where each dbt fact on a table page came from: the nightly
build job built orders and failed a test 99 rows, the hourly test job passed it since, one
test never ran; the jobs page shows live jobs only, with their state and what they build."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.catalog.conftest import FAILED_MESSAGE, build_multi_job_catalog
from tests.factories import analyst_user

pytestmark = pytest.mark.browser

RUNS = "https://ab123.us1.dbt.com/deploy/1/projects/70/runs"


def test_an_analyst_reads_each_facts_job_and_run_on_the_table_page(
    page, live_server, transactional_db, screenshots
):
    catalog = build_multi_job_catalog()
    analyst_user()
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")
    page.goto(f"{live_server.url}/catalog/tables/{catalog.orders.pk}/")

    panel = page.locator("#dbt-model")
    built = panel.locator("tr.fact-execution")
    expect(built.locator("th")).to_have_text("Last built")
    expect(built.locator("td")).to_contain_text("2026-11-27 02:35 by run #101 of Nightly build")
    expect(built.locator("a.run-link")).to_have_attribute("href", f"{RUNS}/101/")
    expect(panel.locator("tr.fact-build-status")).to_contain_text("success in 12.5 s")
    expect(panel.locator("tr.fact-definition")).to_contain_text("run #201 of Hourly tests")
    expect(panel.locator("details.sql summary")).to_contain_text(
        "compiled by run #101 of Nightly build"
    )
    expect(panel.locator(".latest-version")).to_be_visible()

    jobs = page.locator("#jobs li")
    expect(jobs).to_have_count(2)
    expect(jobs.nth(0)).to_contain_text("Nightly build")
    expect(jobs.nth(0)).to_contain_text("last built 2026-11-27 02:35")
    expect(jobs.nth(1)).to_contain_text("Orchestrated backfill")
    expect(page.locator("#jobs")).not_to_contain_text("Hourly tests")

    never = page.locator('tr[data-test="unique_orders_order_id"]')
    expect(never.locator("td.test-status")).to_have_text("never run")
    flipped = page.locator('tr[data-test="not_null_orders_status"]')
    expect(flipped.locator("td.test-status")).to_have_text("pass")
    expect(flipped.locator("td.test-result")).to_contain_text("run #201 of Hourly tests")

    # The history is folded until asked for; then each change names its job and run.
    rows = flipped.locator("table.test-history tbody tr")
    expect(rows.first).to_be_hidden()
    flipped.locator("td.history summary").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("pass")
    expect(rows.nth(0)).to_contain_text("run #201 of Hourly tests")
    expect(rows.nth(1)).to_contain_text("fail")
    expect(rows.nth(1)).to_contain_text("99")
    expect(rows.nth(1)).to_contain_text(FAILED_MESSAGE)
    expect(rows.nth(1)).to_contain_text("run #101 of Nightly build")
    expect(rows.nth(1).locator("a.run-link")).to_have_attribute("href", f"{RUNS}/101/")
    page.screenshot(path=screenshots / "30-table-provenance.png", full_page=True)

    page.goto(f"{live_server.url}/catalog/tables/{catalog.raw_orders.pk}/")
    freshness = page.locator("#dbt-source tr.fact-freshness")
    expect(freshness).to_contain_text("warn")
    expect(freshness).to_contain_text("run #101 of Nightly build")
    expect(page.locator("#jobs")).to_have_count(0)

    page.goto(f"{live_server.url}/catalog/jobs/")
    sections = page.locator("section.dbt-job")
    expect(sections).to_have_count(3)
    expect(page.locator("#content")).not_to_contain_text("Retired nightly")
    backfill = page.locator('section.dbt-job[data-job="Orchestrated backfill"]')
    expect(backfill.locator(".job-state")).to_have_text("Triggered by API or an orchestrator")
    expect(backfill.locator(".job-builds")).to_contain_text("orders")
    hourly = page.locator('section.dbt-job[data-job="Hourly tests"]')
    expect(hourly.locator(".job-state")).to_have_text("Scheduled")
    expect(hourly.locator(".job-builds")).to_have_text("Builds: —")
    page.screenshot(path=screenshots / "31-jobs-live-only.png", full_page=True)
