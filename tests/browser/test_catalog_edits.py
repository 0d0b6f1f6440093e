"""Real Chromium on the edit form: changing only the tags leaves dbt's multi-line description
(and its origin) alone, and a description past the limit comes back with a message and the
text as typed."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from catalog.models import DescriptionSource, EditRecord, Table
from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.browser.conftest import log_in
from tests.catalog.test_edits import BLOCK, manifest
from tests.factories import analyst_user, dbt_integration
from tests.support.dbt_fixtures import one_run

pytestmark = pytest.mark.browser


@pytest.fixture
def customers(transactional_db, warehouse_config) -> Table:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    dbt = dbt_integration()
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(manifest=manifest()),
    )
    return Table.objects.get(name="customers", schema__name="analytics")


def test_changing_only_the_tags_in_chromium_keeps_dbts_description(
    page, live_server, customers, screenshots
):
    analyst_user()
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")
    page.goto(live_server.url + reverse("catalog:table", args=[customers.pk]))
    page.click("#edit-table")
    expect(page.locator("#id_description")).to_have_value(BLOCK)

    page.fill("#id_tags", "core, marts, pii")
    page.click("#edit-form input[type=submit]")
    expect(page.locator("#changes")).to_contain_text("ann-analyst")
    page.screenshot(path=screenshots / "12-table-after-tags-edit.png", full_page=True)

    customers.refresh_from_db()
    assert (customers.description, customers.description_source) == (BLOCK, "dbt")
    assert (customers.tags, customers.tags_source) == (
        ["core", "marts", "pii"],
        DescriptionSource.USER,
    )
    assert [e.field for e in EditRecord.objects.filter(table=customers)] == ["tags"]


def test_a_description_past_the_limit_in_chromium_is_refused_and_kept(
    page, live_server, customers, settings
):
    settings.CATALOG_DESCRIPTION_MAX_LENGTH = 1_000
    typed = "Too long\n" + "words " * 200
    analyst_user()
    log_in(page, live_server, "ann-analyst", "pw-for-tests-1")
    page.goto(live_server.url + reverse("catalog:table-edit", args=[customers.pk]))

    page.fill("#id_description", typed)
    page.click("#edit-form input[type=submit]")

    expect(page.locator("#edit-form")).to_contain_text(
        "A description is 1,000 characters at most; this one is 1,208."
    )
    expect(page.locator("#id_description")).to_have_value(typed)
    customers.refresh_from_db()
    assert customers.description == BLOCK and not EditRecord.objects.exists()
