"""A worker killed in the middle of a sync is known dead by its identity, at once: its run
is taken over without waiting for the heartbeat to go stale (ten minutes by default)."""

from __future__ import annotations

import signal

import psutil
import psycopg
import pytest

from catalog.models import Table
from integrations.models import SyncRun
from integrations.services import integration_create, sync_reap_stale, sync_start
from integrations.services.run_owner import Owner
from tests.conftest import _database_url, _require_real_services, start_worker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

# Well under the default SYNC_STALE_AFTER of 600 s: only the owner's identity can explain it.
PROMPTLY = 45


@pytest.fixture
def workers(transactional_db, celery_worker_process):
    """Two workers on one queue, with the default staleness; stopped afterwards."""
    from config.celery import app

    _require_real_services()
    started = []

    def start(name: str, queue: str = "", **env: str):
        worker = start_worker(name, queue=queue, SYNC_MAX_ATTEMPTS="3", **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    app.conf.task_default_queue = celery_worker_process.queue


@pytest.fixture
def blocked_catalog():
    """Hold the catalog so that a worker stops inside the apply, after claiming its run."""
    blocker = psycopg.connect(_database_url())
    blocker.execute("LOCK TABLE catalog_database IN ACCESS EXCLUSIVE MODE")
    yield blocker
    blocker.rollback()
    blocker.close()


def test_redelivered_task_takes_over_at_once_when_the_pool_process_was_killed(
    workers, warehouse_config, blocked_catalog
):
    worker = workers("pool")
    integration = integration_create(connector_key="postgres", name="killed", config=warehouse_config)
    run = sync_start(integration=integration)
    wait_until(lambda: _waiting_on_lock(blocked_catalog), timeout=60, what="the apply to block")
    owner = Owner.parse(_refreshed(run).worker)
    assert owner and owner.pid == worker.pool_children()[0].pid

    worker.kill_pool_child()

    # No reaper here: the message comes back from the broker and its claim takes over.
    wait_until(lambda: _refreshed(run).attempts == 2, timeout=PROMPTLY, what="the takeover")
    assert Owner.parse(_refreshed(run).worker).pid != owner.pid
    blocked_catalog.rollback()
    wait_until(lambda: _refreshed(run).status == SyncRun.Status.SUCCEEDED, timeout=60, what="it")
    assert Table.objects.filter(integration=integration).count() == 10


def test_reaper_takes_over_at_once_the_run_of_a_whole_worker_killed(
    workers, warehouse_config, blocked_catalog
):
    doomed = workers("doomed")
    integration = integration_create(connector_key="postgres", name="orphan", config=warehouse_config)
    run = sync_start(integration=integration)
    wait_until(lambda: _waiting_on_lock(blocked_catalog), timeout=60, what="the apply to block")
    # The whole worker dies at once, as with kill -9 of its process group or a lost machine:
    # its message stays unacknowledged in Redis for the visibility timeout (an hour).
    for process in [*doomed.pool_children(), psutil.Process(doomed.process.pid)]:
        process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=30)
    survivor = workers("survivor", queue=doomed.queue)

    assert sync_reap_stale() == [run.pk]  # as beat runs it every minute

    wait_until(lambda: _refreshed(run).attempts == 2, timeout=PROMPTLY, what="the takeover")
    blocked_catalog.rollback()
    wait_until(lambda: _refreshed(run).status == SyncRun.Status.SUCCEEDED, timeout=60, what="it")
    assert Owner.parse(run.worker).pid == survivor.pool_children()[0].pid
    assert SyncRun.objects.filter(integration=integration).count() == 1


def test_a_worker_on_another_machine_is_asked_what_it_runs(
    workers, warehouse_config, blocked_catalog
):
    worker = workers("remote")
    integration = integration_create(connector_key="postgres", name="remote", config=warehouse_config)
    run = sync_start(integration=integration)
    wait_until(lambda: _waiting_on_lock(blocked_catalog), timeout=60, what="the apply to block")
    owner = Owner.parse(_refreshed(run).worker)
    # As if that worker ran elsewhere: the process table here cannot tell, its answer can.
    elsewhere = Owner(owner.node, "another-machine", owner.pid, owner.started)
    SyncRun.objects.filter(pk=run.pk).update(worker=str(elsewhere))

    assert sync_reap_stale() == []  # it says it is running this sync
    assert _refreshed(run).status == SyncRun.Status.RUNNING and run.attempts == 1

    ghost = Owner("ghost@another-machine", "another-machine", owner.pid, owner.started)
    SyncRun.objects.filter(pk=run.pk).update(worker=str(ghost))
    assert sync_reap_stale() == [run.pk]  # nobody answers for the ghost
    blocked_catalog.rollback()
    wait_until(lambda: _refreshed(run).status == SyncRun.Status.SUCCEEDED, timeout=60, what="it")
    assert worker.process.poll() is None


def test_a_live_worker_stuck_in_a_long_apply_keeps_its_run(
    workers, warehouse_config, blocked_catalog, settings
):
    """Its heartbeat comes from a thread of its own, not from the connector's progress."""
    workers("slow", SYNC_STALE_AFTER="2", SYNC_HEARTBEAT_EVERY="0.2")
    integration = integration_create(connector_key="postgres", name="slow", config=warehouse_config)
    run = sync_start(integration=integration)
    wait_until(lambda: _waiting_on_lock(blocked_catalog), timeout=60, what="the apply")
    first_beat = _refreshed(run).heartbeat_at
    wait_until(
        lambda: (_refreshed(run).heartbeat_at - first_beat).total_seconds() > 3,
        timeout=30,
        what="the heartbeat to go on while the apply waits",
    )
    settings.SYNC_STALE_AFTER = 2
    assert sync_reap_stale() == []
    blocked_catalog.rollback()
    wait_until(lambda: _refreshed(run).status == SyncRun.Status.SUCCEEDED, timeout=60, what="it")
    assert run.attempts == 1


def _refreshed(run: SyncRun) -> SyncRun:
    run.refresh_from_db()
    return run


def _waiting_on_lock(blocker) -> bool:
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> %s",
            [blocker.info.backend_pid],
        ).fetchone()
    return row[0] > 0
