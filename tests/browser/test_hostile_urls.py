"""In real Chromium, a dbt exposure URL of `javascript:alert(document.domain)` and dbt Cloud
run, job and node links that are `javascript:` URLs in disguise run nothing when clicked.

Each test runs twice: with the page's Content-Security-Policy, and with Chromium told to
ignore it, so that the URL rule alone is shown to hold (the policy would block a
`javascript:` navigation on its own)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from catalog.models import DbtExposure, Table
from tests.browser.conftest import log_in
from tests.factories import analyst_user
from tests.support.hostile_urls import EXPOSURE_URL, RUN_URL, build_hostile_catalog

pytestmark = pytest.mark.browser

# Every link and SVG link of the page, as Chromium itself parses its URL.
LINK_SCHEMES = """() => Array.from(document.querySelectorAll("a[href]")).map(a =>
    new URL(a.getAttribute("href"), document.baseURI).protocol)"""


@pytest.fixture(params=[False, True], ids=["with-csp", "csp-ignored"])
def hostile_page(request, browser, live_server, transactional_db, warehouse_config):
    build_hostile_catalog(warehouse_config)
    analyst_user()
    context = browser.new_context(bypass_csp=request.param)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")
    yield page
    context.close()


def click_and_settle(page, locator) -> None:
    """Click, then wait for a dialog of our own: one the click opened would come first."""
    url = page.url
    locator.click()
    page.evaluate("() => new Promise(done => setTimeout(() => { alert('settled'); done(); }))")
    assert page.dialogs == ["settled"], f"a dialog opened: {page.dialogs}"
    page.dialogs.clear()
    assert page.url == url


def test_clicking_a_javascript_exposure_url_runs_nothing(hostile_page, live_server, screenshots):
    page = hostile_page
    exposure = DbtExposure.objects.get()
    page.goto(live_server.url + reverse("catalog:exposure", args=[exposure.pk]))
    expect(page.locator("code.url-as-text")).to_have_text(EXPOSURE_URL)
    assert set(page.evaluate(LINK_SCHEMES)) <= {"http:", "https:"}

    click_and_settle(page, page.get_by_text("open it"))
    click_and_settle(page, page.locator("code.url-as-text"))
    page.screenshot(path=screenshots / "13-exposure-javascript-url-as-text.png", full_page=True)


def test_clicking_javascript_run_job_and_node_links_runs_nothing(
    hostile_page, live_server, screenshots
):
    page = hostile_page
    customers = Table.objects.get(name="customers")
    page.goto(live_server.url + reverse("catalog:table", args=[customers.pk]))
    expect(page.locator("#dbt-model")).to_contain_text("Open customers in dbt Cloud")
    assert set(page.evaluate(LINK_SCHEMES)) <= {"http:", "https:"}

    click_and_settle(page, page.locator("#dbt-model").get_by_text("Open customers in dbt Cloud"))
    run_links = page.locator("#dbt-model").get_by_text("#9001")  # one per kind of fact
    expect(run_links).to_have_count(4)
    for i in range(4):
        click_and_settle(page, run_links.nth(i))
    click_and_settle(page, page.locator("#jobs").get_by_text("Prod nightly"))
    click_and_settle(page, page.locator("#jobs").get_by_text("#9001"))
    click_and_settle(page, page.locator("#tests tbody tr").first.locator("td").first)
    page.screenshot(path=screenshots / "14-table-javascript-dbt-links-as-text.png", full_page=True)

    page.goto(live_server.url + reverse("catalog:jobs"))
    expect(page.locator("code.url-as-text").nth(1)).to_have_text(RUN_URL)
    assert set(page.evaluate(LINK_SCHEMES)) <= {"http:", "https:"}
    click_and_settle(page, page.get_by_text("#9001"))
    click_and_settle(page, page.get_by_text("Prod nightly"))
