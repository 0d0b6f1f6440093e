"""The dbt Cloud integration's page shows a job's or run's `javascript:` link as text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.catalog.conftest import build_jaffle_catalog
from tests.factories import admin_user, analyst_user
from tests.support.hostile_urls import JOB_URL, RUN_URL, build_hostile_catalog, script_links

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("user", [admin_user, analyst_user])
def test_the_dbt_integration_page_links_no_javascript_url(client, warehouse_config, user):
    _warehouse, dbt = build_hostile_catalog(warehouse_config)
    client.force_login(user())
    response = client.get(reverse("integrations:detail", args=[dbt.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="dbt-jobs"' in body and "Prod nightly" in body and "#9001" in body
    assert script_links(body) == []
    assert JOB_URL in body and RUN_URL in body


def test_the_dbt_integration_page_keeps_https_job_and_run_links(client, warehouse_config):
    _warehouse, dbt = build_jaffle_catalog(warehouse_config)
    client.force_login(admin_user())
    body = client.get(reverse("integrations:detail", args=[dbt.pk])).content.decode()
    assert 'href="https://ab123.us1.dbt.com/runs/9001/" rel="noopener noreferrer"' in body
    assert 'href="https://ab123.us1.dbt.com/deploy/1/projects/' in body
