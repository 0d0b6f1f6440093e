"""Creating integrations and queueing syncs through the service layer."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from integrations.models import Integration, SyncRun
from integrations.services import (
    IntegrationRequirementMissing,
    SyncAlreadyActive,
    integration_create,
    integration_update,
    sync_start,
)
from integrations.services.sync import _claim
from tests.support.connectors import registered

pytestmark = pytest.mark.django_db


@pytest.fixture
def secondary_registered():
    with registered("secondary", "tests.support.secondary_connector"):
        yield


def test_integration_create_rejects_a_config_the_form_rejects(warehouse_config):
    with pytest.raises(ValidationError) as caught:
        integration_create(
            connector_key="postgres",
            name="x",
            config={**warehouse_config, "port": "not a port", "host": ""},
        )
    assert set(caught.value.message_dict) == {"port", "host"}
    assert not Integration.objects.exists()


def test_integration_create_refuses_credentials_that_fail_the_connection_test(warehouse_config):
    with pytest.raises(ValidationError) as caught:
        integration_create(
            connector_key="postgres",
            name="x",
            config={**warehouse_config, "database": "missing_db"},
        )
    assert (
        "Connection test failed: Database 'missing_db' does not exist" in caught.value.messages[0]
    )
    assert not Integration.objects.exists()


def test_integration_create_stores_cleaned_config_with_pattern_lists(warehouse_config):
    integration = integration_create(
        connector_key="postgres",
        name="wh",
        config={
            **warehouse_config,
            "schema_include": "analytics*, marts",
            "schema_exclude": ["tmp_*"],
        },
    )
    integration.refresh_from_db()
    assert integration.config["schema_include"] == ["analytics*", "marts"]
    assert integration.config["schema_exclude"] == ["tmp_*"]
    assert integration.public_config().keys() == integration.config.keys() - {"password"}
    assert "password" not in integration.public_config()


def test_integration_names_are_unique(warehouse_config):
    integration_create(connector_key="postgres", name="wh", config=warehouse_config)
    with pytest.raises(ValidationError) as caught:
        integration_create(connector_key="postgres", name="wh", config=warehouse_config)
    assert "name" in caught.value.message_dict


def test_secondary_integration_needs_a_warehouse_first(secondary_registered, warehouse_config):
    with pytest.raises(IntegrationRequirementMissing) as caught:
        integration_create(connector_key="secondary", name="tool", config={"token": "t"})
    assert "connect one of the warehouses and databases first" in caught.value.messages[0]
    assert not Integration.objects.exists()

    integration_create(connector_key="postgres", name="wh", config=warehouse_config)
    tool = integration_create(connector_key="secondary", name="tool", config={"token": "t"})
    assert tool.connector == "secondary"


def test_update_with_a_blank_secret_keeps_the_stored_one(warehouse_config):
    integration = integration_create(
        connector_key="postgres", name="wh", config={**warehouse_config, "password": "kept-secret"}
    )
    integration_update(
        integration=integration,
        config={**warehouse_config, "password": "", "port": 5432},
        test_connection=False,
    )
    integration.refresh_from_db()
    assert integration.config["password"] == "kept-secret"


def test_repr_shows_key_names_and_no_secret(warehouse_config):
    integration = integration_create(
        connector_key="postgres", name="wh", config={**warehouse_config, "password": "hunter2-xyz"}
    )
    assert "hunter2-xyz" not in repr(integration) and "password" in repr(integration)


def _integration(warehouse_config) -> Integration:
    return Integration.objects.create(connector="postgres", name="wh", config=warehouse_config)


def test_a_second_sync_while_one_is_active_is_refused(
    warehouse_config, django_capture_on_commit_callbacks
):
    integration = _integration(warehouse_config)
    with django_capture_on_commit_callbacks() as callbacks:
        first = sync_start(integration=integration)
    assert len(callbacks) == 1  # the task is sent only once the run is committed
    with pytest.raises(SyncAlreadyActive) as caught:
        sync_start(integration=integration)
    assert caught.value.run == first
    assert SyncRun.objects.count() == 1


def test_the_database_itself_refuses_two_active_runs(warehouse_config):
    integration = _integration(warehouse_config)
    SyncRun.objects.create(integration=integration, status=SyncRun.Status.RUNNING)
    with pytest.raises(IntegrityError):
        SyncRun.objects.create(integration=integration, status=SyncRun.Status.QUEUED)


def test_a_finished_run_does_not_block_the_next(
    warehouse_config, django_capture_on_commit_callbacks
):
    integration = _integration(warehouse_config)
    SyncRun.objects.create(integration=integration, status=SyncRun.Status.FAILED)
    with django_capture_on_commit_callbacks():
        run = sync_start(integration=integration, trigger=SyncRun.Trigger.SCHEDULE)
    assert run.status == SyncRun.Status.QUEUED and run.trigger == "schedule"


def test_claim_takes_a_queued_run_once(warehouse_config):
    run = SyncRun.objects.create(integration=_integration(warehouse_config))
    assert _claim(run) and run.status == SyncRun.Status.RUNNING and run.attempts == 1
    assert not _claim(SyncRun.objects.get(pk=run.pk))


def test_claim_takes_over_a_running_run_only_once_its_heartbeat_is_stale(
    warehouse_config, settings
):
    settings.SYNC_STALE_AFTER = 60
    run = SyncRun.objects.create(integration=_integration(warehouse_config))
    assert _claim(run)
    first_start = run.started_at
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30))
    assert not _claim(run)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    assert _claim(run)
    assert run.attempts == 2 and run.started_at == first_start


def test_a_finished_warehouse_sync_starts_the_syncs_that_build_on_it(
    secondary_registered, warehouse_config, django_capture_on_commit_callbacks
):
    from integrations.services import SyncOutcome, sync_execute

    warehouse = integration_create(connector_key="postgres", name="wh", config=warehouse_config)
    tool = integration_create(connector_key="secondary", name="tool", config={"token": "t"})
    run = SyncRun.objects.create(integration=warehouse)

    with django_capture_on_commit_callbacks() as callbacks:
        assert sync_execute(run=run) is SyncOutcome.SUCCEEDED

    chained = SyncRun.objects.get(integration=tool)
    assert chained.trigger == SyncRun.Trigger.CHAINED and chained.status == SyncRun.Status.QUEUED
    assert len(callbacks) == 1


def test_a_failed_warehouse_sync_starts_nothing(secondary_registered, warehouse_config):
    from integrations.services import SyncOutcome, sync_execute

    warehouse = integration_create(connector_key="postgres", name="wh", config=warehouse_config)
    integration_create(connector_key="secondary", name="tool", config={"token": "t"})
    integration_update(
        integration=warehouse,
        config={**warehouse_config, "database": "gone"},
        test_connection=False,
    )
    run = SyncRun.objects.create(integration=warehouse)
    assert sync_execute(run=run) is SyncOutcome.FAILED
    assert SyncRun.objects.filter(integration__connector="secondary").count() == 0
