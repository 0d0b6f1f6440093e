"""Django admin for integrations: secrets masked, Sync now through the service."""

import pytest
from django.urls import reverse

from integrations.models import Integration, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(warehouse_config):
    return Integration.objects.create(
        connector="postgres", name="wh", config={**warehouse_config, "password": "admin-never-sees"}
    )


def test_admin_change_page_shows_settings_but_masks_the_password(admin_client, integration):
    response = admin_client.get(
        reverse("admin:integrations_integration_change", args=[integration.pk])
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "admin-never-sees" not in body
    assert integration.config["database"] in body and "********" in body


def test_admin_list_and_sync_now_action_queue_a_run(
    admin_client, integration, django_capture_on_commit_callbacks
):
    listing = admin_client.get(reverse("admin:integrations_integration_changelist"))
    assert "admin-never-sees" not in listing.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:integrations_integration_changelist"),
            {"action": "sync_now", "_selected_action": [integration.pk]},
            follow=True,
        )
    assert response.status_code == 200
    run = SyncRun.objects.get()
    assert run.integration == integration and run.status == SyncRun.Status.QUEUED
    assert len(callbacks) == 1
    assert f"sync #{run.pk} queued" in response.content.decode()

    again = admin_client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": "sync_now", "_selected_action": [integration.pk]},
        follow=True,
    )
    assert "already queued" in again.content.decode()
    assert SyncRun.objects.count() == 1


def test_admin_cannot_add_integrations_around_the_service_guards(admin_client):
    response = admin_client.get(reverse("admin:integrations_integration_add"))
    assert response.status_code == 403


def test_catalog_admin_pages_render(admin_client):
    for name in ("database", "schema", "table", "column"):
        assert admin_client.get(reverse(f"admin:catalog_{name}_changelist")).status_code == 200


def test_admin_cannot_delete_the_last_warehouse_while_dbt_cloud_builds_on_it(
    admin_client, integration
):
    from tests.factories import dbt_integration

    dbt_integration()
    url = reverse("admin:integrations_integration_delete", args=[integration.pk])
    assert admin_client.get(url).status_code == 403
    assert Integration.objects.filter(pk=integration.pk).exists()


def test_admin_delete_goes_through_the_service_and_clears_the_schedule(admin_client, integration):
    from django_celery_beat.models import PeriodicTask

    from integrations.services.schedule import integration_schedule_set

    integration_schedule_set(integration=integration, cron="0 * * * *")
    url = reverse("admin:integrations_integration_delete", args=[integration.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Integration.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="integration-").exists()
