"""In real Chromium, under the Content-Security-Policy every response carries, the main pages
(catalog, integrations, Django admin) report no violation, throw no error, and their
JavaScript still works: the gallery filters as one types, the progress bar follows a sync."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from catalog.models import Column, DbtExposure, DbtTerm, Table
from integrations.models import Integration, SyncRun
from tests.browser.conftest import log_in
from tests.catalog.conftest import build_jaffle_catalog
from tests.factories import admin_user

pytestmark = pytest.mark.browser

# Playwright's init scripts are not subject to the page's policy; page scripts are.
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
                  + ` at ${e.sourceFile}:${e.lineNumber}`));"""


@pytest.fixture
def watched(browser):
    """A page, and the policy violations and script errors it reports."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []

    def on_console(message):
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "CSP" in text):
            problems.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    yield page, problems
    context.close()


def visit(page, live_server, url: str) -> None:
    response = page.goto(live_server.url + url)
    assert response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")


def test_main_pages_run_under_the_policy_with_no_violation(
    watched, live_server, transactional_db, warehouse_config, screenshots
):
    page, problems = watched
    warehouse, dbt = build_jaffle_catalog(warehouse_config)
    admin_user()
    User.objects.create_superuser("root", password="pw-for-tests-1")
    log_in(page, live_server, "alice-admin", "pw-for-tests-1")
    customers = Table.objects.get(name="customers")

    # Catalog: search, a table with its lineage SVG and highlighted SQL, dbt pages, editing.
    page.fill("#search-form input[name=q]", "customers")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#results tbody tr").first).to_contain_text("customers")
    for url in [
        reverse("catalog:table", args=[customers.pk]),
        reverse("catalog:table-edit", args=[customers.pk]),
        reverse("catalog:column-edit", args=[Column.objects.filter(table=customers).first().pk]),
        reverse("catalog:exposures"),
        reverse("catalog:exposure", args=[DbtExposure.objects.first().pk]),
        reverse("catalog:terms"),
        reverse("catalog:term", args=[DbtTerm.objects.first().pk]),
        reverse("catalog:groups"),
        reverse("catalog:jobs"),
        reverse("catalog:freshness"),
        reverse("account:tokens"),
    ]:
        visit(page, live_server, url)
    visit(page, live_server, reverse("catalog:table", args=[customers.pk]))
    expect(page.locator("#lineage svg")).to_be_visible()
    expect(page.locator("details.sql .highlight")).to_be_visible()

    # Integrations: the list, the gallery filtering as one types, a form, both detail pages.
    visit(page, live_server, reverse("integrations:list"))
    visit(page, live_server, reverse("integrations:gallery"))
    page.fill("#gallery-search", "dbt")
    expect(page.locator('.card[data-connector="postgres"]')).to_be_hidden()
    expect(page.locator('.card[data-connector="dbt_cloud"]')).to_be_visible()
    assert page.url.endswith("?q=dbt")  # the script filtered in place
    page.fill("#gallery-search", "postgres")
    expect(page.locator('.card[data-connector="postgres"]')).to_be_visible()
    expect(page.locator('.card[data-connector="dbt_cloud"]')).to_be_hidden()
    for url in [
        reverse("integrations:connect", args=["postgres"]),
        reverse("integrations:edit", args=[warehouse.pk]),
        reverse("integrations:disconnect", args=[warehouse.pk]),
        reverse("integrations:detail", args=[dbt.pk]),
    ]:
        visit(page, live_server, url)
    expect(page.locator("#dbt-jobs")).to_contain_text("Prod nightly")

    # Django admin, as a superuser: index, lists with actions, change forms with widgets.
    page.click("#logout-form button")
    log_in(page, live_server, "root", "pw-for-tests-1")
    for url in [
        reverse("admin:index"),
        reverse("admin:catalog_table_changelist"),
        reverse("admin:catalog_table_change", args=[customers.pk]),
        reverse("admin:catalog_dbtexposure_change", args=[DbtExposure.objects.first().pk]),
        reverse("admin:integrations_integration_changelist"),
        reverse("admin:integrations_integration_change", args=[warehouse.pk]),
        reverse("admin:integrations_syncrun_changelist"),
        reverse("admin:auth_user_add"),
        reverse("admin:auth_user_changelist"),
    ]:
        visit(page, live_server, url)
    page.click("#action-toggle")  # admin's actions.js ticks every row
    expect(page.locator("#result_list tbody input.action-select").first).to_be_checked()
    page.screenshot(path=screenshots / "15-admin-under-csp.png", full_page=True)

    assert problems == []


def test_the_progress_bar_follows_a_sync_under_the_policy(
    watched, live_server, transactional_db, screenshots
):
    page, problems = watched
    integration = Integration.objects.create(connector="postgres", name="warehouse", config={})
    run = SyncRun.objects.create(
        integration=integration,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        progress_done=2,
        progress_total=10,
    )
    admin_user()
    log_in(page, live_server, "alice-admin", "pw-for-tests-1")
    visit(page, live_server, reverse("integrations:detail", args=[integration.pk]))
    bar = page.locator("#sync-progress .progress-done")
    expect(bar).to_have_attribute("width", "20")
    expect(page.locator("#sync-progress .progress")).to_have_attribute("aria-valuenow", "20")

    SyncRun.objects.filter(pk=run.pk).update(progress_done=7)
    expect(bar).to_have_attribute("width", "70")  # moved by progress.js, polling
    expect(page.locator("#sync-progress .progress-count")).to_have_text("7 / 10 tables")
    assert page.evaluate(
        "() => document.querySelector('#sync-progress .progress-done')"
        ".getBoundingClientRect().width > 0"
    )

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED, progress_done=10, finished_at=timezone.now()
    )
    expect(page.locator('#sync-progress[data-status="succeeded"]')).to_be_visible()
    expect(bar).to_have_attribute("width", "100")
    page.screenshot(path=screenshots / "16-progress-under-csp.png", full_page=True)
    assert problems == []


def test_a_violation_would_be_seen(watched, live_server, db):
    """The watch above is not blind: an inline style attribute, and an inline script, added
    to a page are refused and reported."""
    page, problems = watched
    visit(page, live_server, "/login/")
    with page.expect_console_message(lambda m: "CSP violation: style-src-attr" in m.text):
        page.evaluate(
            "() => document.body.insertAdjacentHTML('beforeend', '<b style=\"color: red\">x</b>')"
        )
    with page.expect_console_message(lambda m: "CSP violation: script-src-elem" in m.text):
        page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "document.title = 'ran'"; document.body.append(s); }"""
        )
    assert page.title() != "ran"
    assert any("style-src-attr" in p for p in problems) and any("script-src" in p for p in problems)
