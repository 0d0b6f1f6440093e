"""In Chromium, under the page's Content-Security-Policy: the dbt Cloud job picker labels
each job's state, filters as one types (static/js/job_picker.js), keeps ticks on jobs
filtered out of sight, and an inactive job can still be chosen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integrations.models import Integration
from integrations.services import integration_create
from tests.browser.conftest import log_in
from tests.browser.test_content_security_policy import watched  # noqa: F401 - a fixture
from tests.factories import admin_user, postgres_integration
from tests.integrations.connectors.test_dbt_cloud_jobs import (
    NIGHTLY,
    STALE,
    account,
    config_for,
)

pytestmark = pytest.mark.browser

SCHEDULED = "Nightly build — Production · scheduled"
TRIGGERED = "Airflow export — Production · triggered by API or an orchestrator"
NEVER_RUN = "Never run — Production · inactive"
OLD_EXPORT = "Old export — Production · inactive"


def test_the_job_picker_shows_states_filters_as_one_types_and_keeps_ticks(
    watched,  # noqa: F811
    live_server,
    transactional_db,
    warehouse_config,
    dbt_cloud,
    screenshots,
):
    page, problems = watched
    account(dbt_cloud, deactivated=100)
    postgres_integration(warehouse_config)
    dbt = integration_create(connector_key="dbt_cloud", name="dbt", config=config_for(dbt_cloud))
    admin_user()
    log_in(page, live_server, "alice-admin", "pw-for-tests-1")

    page.goto(f"{live_server.url}/integrations/{dbt.pk}/edit/")
    jobs = page.locator('[data-field="job_ids"]')
    rows = jobs.locator("#id_job_ids label")
    for label in (SCHEDULED, TRIGGERED, NEVER_RUN, OLD_EXPORT):
        expect(jobs.get_by_label(label)).to_be_visible()
    expect(rows).to_have_count(105)
    expect(jobs).to_contain_text("An inactive job is read only when ticked.")
    search = page.locator("#id_job_ids-filter")
    expect(search).to_be_visible()  # shown by the script; without it, no dead box

    search.fill("triggered")
    expect(jobs.get_by_label(TRIGGERED)).to_be_visible()
    expect(jobs.get_by_label(SCHEDULED)).to_be_hidden()
    expect(rows.locator("visible=true")).to_have_count(1)

    search.fill("old exp")  # every word starts a word of the label
    expect(jobs.get_by_label(OLD_EXPORT)).to_be_visible()
    expect(rows.locator("visible=true")).to_have_count(1)
    jobs.get_by_label(OLD_EXPORT).check()  # inactive, but chosen explicitly

    search.fill("inactive")
    expect(rows.locator("visible=true")).to_have_count(102)
    expect(jobs.get_by_label(TRIGGERED)).to_be_hidden()

    search.fill(str(NIGHTLY))  # a job's ID finds it too
    expect(rows.locator("visible=true")).to_have_count(1)
    jobs.get_by_label(SCHEDULED).check()

    search.fill("no such job")
    expect(rows.locator("visible=true")).to_have_count(0)
    expect(page.locator("#id_job_ids-empty")).to_have_text("No job matches “no such job”.")
    search.press("Enter")  # filters; does not submit the form
    expect(page.locator("#id_job_ids-empty")).to_be_visible()
    page.screenshot(path=screenshots / "20-dbt-job-picker-filtered.png", full_page=True)

    search.fill("")
    expect(rows.locator("visible=true")).to_have_count(105)
    expect(page.locator("#id_job_ids-empty")).to_be_hidden()

    search.fill("airflow")  # the ticked jobs are out of sight when the form is sent
    page.click("#connect-form input[name=_save]")
    expect(page.locator("#content h1")).to_have_text("dbt")
    assert Integration.objects.get(pk=dbt.pk).config["job_ids"] == [str(NIGHTLY), str(STALE)]
    assert problems == []
