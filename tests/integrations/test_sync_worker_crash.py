"""A worker killed in the middle of a sync: the run is recovered and finished, never left running."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.test import override_settings

from catalog.models import Table
from integrations.models import SyncRun
from integrations.services import integration_create, sync_reap_stale, sync_start
from tests.conftest import _database_url, _require_real_services, start_worker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

STALE_AFTER = 2


@pytest.fixture
def crash_worker(transactional_db, celery_worker_process):
    from config.celery import app

    _require_real_services()
    worker = start_worker("crash", SYNC_STALE_AFTER=str(STALE_AFTER), SYNC_MAX_ATTEMPTS="3")
    yield worker
    worker.stop()
    app.conf.task_default_queue = celery_worker_process.queue


def test_sync_whose_worker_is_killed_mid_apply_is_requeued_and_finishes(
    crash_worker, warehouse_config
):
    integration = integration_create(
        connector_key="postgres", name="crashy", config=warehouse_config
    )
    # Hold the catalog so that the worker stops inside the apply, after claiming the run.
    blocker = psycopg.connect(_database_url())
    blocker.execute("LOCK TABLE catalog_database IN ACCESS EXCLUSIVE MODE")
    try:
        run = sync_start(integration=integration)
        wait_until(
            lambda: _waiting_on_lock(blocker), timeout=60, what="the worker to block in the apply"
        )
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING and run.attempts == 1

        crash_worker.kill_pool_child()

        # The broker hands the message back at once; it may claim the run again only once
        # the run's heartbeat is stale (so two workers never run one sync), or else the
        # reaper requeues it. Either way the same run gets a second attempt.
        def second_attempt() -> bool:
            with override_settings(SYNC_STALE_AFTER=STALE_AFTER):
                sync_reap_stale()
            return _attempts(run) == 2

        wait_until(second_attempt, timeout=60, what="the second attempt")
        assert _status(run) == SyncRun.Status.RUNNING
    finally:
        blocker.rollback()
        blocker.close()

    wait_until(
        lambda: _status(run) == SyncRun.Status.SUCCEEDED, timeout=60, what="the sync to finish"
    )
    run.refresh_from_db()
    assert run.attempts == 2
    assert run.error == ""
    assert Table.objects.filter(integration=integration).count() == 10
    assert SyncRun.objects.filter(integration=integration).count() == 1


def test_reaper_fails_a_run_whose_worker_died_too_often(transactional_db, warehouse_config):
    integration = integration_create(connector_key="postgres", name="dead", config=warehouse_config)
    run = SyncRun.objects.create(
        integration=integration, status=SyncRun.Status.RUNNING, attempts=settings.SYNC_MAX_ATTEMPTS
    )
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at="2000-01-01T00:00:00Z")

    assert sync_reap_stale() == [run.pk]

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "stopped answering" in run.error and run.finished_at is not None
    assert sync_reap_stale() == []


def _waiting_on_lock(blocker) -> bool:
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> %s",
            [blocker.info.backend_pid],
        ).fetchone()
    return row[0] > 0


def _attempts(run: SyncRun) -> int:
    run.refresh_from_db()
    return run.attempts


def _status(run: SyncRun) -> str:
    run.refresh_from_db()
    return run.status
