"""The broker fails while syncs are queued or running: nothing is lost or left stuck."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
from kombu import pools

from catalog.models import Table
from integrations.models import SyncRun
from integrations.services import integration_create, sync_reap_stale, sync_start
from tests.conftest import _database_url, _require_real_services, start_worker
from tests.support.redis_server import PrivateRedis
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


@contextmanager
def broker(url: str):
    """Point this process's Celery app at another broker, and back afterwards."""
    from config.celery import app

    def reset() -> None:
        # kombu keeps producer pools in a registry of its own, keyed by connection: drop
        # them all, or a later send acquires from a pool closed here.
        app.amqp._producer_pool = None
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        pools.reset()

    before = (app.conf.broker_url, app.conf.broker_write_url, app.conf.task_default_queue)
    reset()
    app.conf.broker_url = url
    app.conf.broker_write_url = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url, app.conf.broker_write_url, app.conf.task_default_queue = before


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.cleanup()


@pytest.fixture
def two_workers(transactional_db, private_redis):
    """Two workers on one queue, started as the README starts them (gossip, mingle and
    a pool of two each): the worker exit was seen only with a neighbour to talk to."""
    from config.celery import app

    _require_real_services()
    with broker(private_redis.url):
        first = start_worker("w1", options=("--concurrency=2",), CELERY_BROKER_URL=private_redis.url)
        second = start_worker(
            "w2",
            queue=app.conf.task_default_queue,
            options=("--concurrency=2",),
            CELERY_BROKER_URL=private_redis.url,
        )
        yield first, second
        first.stop()
        second.stop()


def test_workers_survive_broker_restarts_in_the_middle_of_a_sync(
    two_workers, private_redis, warehouse_config
):
    integration = integration_create(
        connector_key="postgres", name="bounced", config=warehouse_config
    )
    blocker = psycopg.connect(_database_url())
    blocker.execute("LOCK TABLE catalog_database IN ACCESS EXCLUSIVE MODE")
    try:
        run = sync_start(integration=integration)
        wait_until(lambda: _status(run) == SyncRun.Status.RUNNING, what="a worker to claim it")
        for restart in (1, 2):
            private_redis.restart()
            # Each worker logs a new connection once it is back on the restarted broker.
            wait_until(
                lambda restart=restart: all(
                    w.log().count("Connected to redis://") > restart or w._died()
                    for w in two_workers
                ),
                timeout=60,
                what="the workers to reconnect",
            )
    finally:
        blocker.rollback()
        blocker.close()

    for worker in two_workers:
        assert not worker._died(), worker.log()[-4000:]
        assert "Unrecoverable error" not in worker.log()
    wait_until(lambda: _status(run) == SyncRun.Status.SUCCEEDED, timeout=90, what="the sync")
    assert Table.objects.filter(integration=integration).count() == 10
    # Back at work on the restarted broker.
    second = sync_start(integration=integration)
    wait_until(lambda: _status(second) == SyncRun.Status.SUCCEEDED, timeout=90, what="sync 2")
    assert all(not w._died() for w in two_workers)


def _status(run: SyncRun) -> str:
    run.refresh_from_db()
    return run.status


@pytest.fixture
def stopped_broker(transactional_db, private_redis):
    """The broker is down: this process sends its tasks to a Redis that is not there."""
    private_redis.stop()
    with broker(private_redis.url):
        yield private_redis


def test_sync_now_with_the_broker_down_fails_the_run_with_the_reason_and_does_not_block(
    client, stopped_broker, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    integration = integration_create(connector_key="postgres", name="nobroker", config=warehouse_config)

    response = client.post(f"/integrations/{integration.pk}/sync/", follow=True)

    assert response.status_code == 200
    run = SyncRun.objects.get(integration=integration)
    assert run.status == SyncRun.Status.FAILED and run.finished_at is not None
    assert "task broker did not accept it" in run.error
    assert f"Sync #{run.pk} failed: The sync could not be handed" in response.content.decode()
    # Not "already queued": once the broker is back, the next click queues a sync.
    stopped_broker.start()
    client.post(f"/integrations/{integration.pk}/sync/")
    assert SyncRun.objects.filter(integration=integration, status=SyncRun.Status.QUEUED).count() == 1


def test_a_message_lost_in_a_broker_restart_is_sent_again_and_the_sync_runs(
    transactional_db, private_redis, warehouse_config, settings
):
    from config.celery import app

    _require_real_services()
    with broker(private_redis.url):
        app.conf.task_default_queue = "test-lost-" + private_redis.dir.name[-8:]
        integration = integration_create(
            connector_key="postgres", name="lost", config=warehouse_config
        )
        run = sync_start(integration=integration)
        assert _status(run) == SyncRun.Status.QUEUED
        private_redis.restart()  # it keeps nothing on disk: the queued message is gone

        settings.SYNC_RESEND_AFTER = 0
        assert sync_reap_stale() == [run.pk]
        settings.SYNC_RESEND_AFTER = 3600
        worker = start_worker(
            "lost", queue=app.conf.task_default_queue, CELERY_BROKER_URL=private_redis.url
        )
        try:
            wait_until(lambda: _status(run) == SyncRun.Status.SUCCEEDED, timeout=90, what="it")
        finally:
            worker.stop()
    run.refresh_from_db()
    assert run.sends == 1 and run.attempts == 1


def test_a_chained_sync_sent_while_the_broker_is_down_fails_with_the_reason(
    stopped_broker, warehouse_config
):
    from integrations.services import SyncOutcome, sync_execute
    from tests.support.connectors import registered

    with registered("secondary", "tests.support.secondary_connector"):
        warehouse = integration_create(connector_key="postgres", name="wh", config=warehouse_config)
        tool = integration_create(connector_key="secondary", name="tool", config={"token": "t"})
        run = SyncRun.objects.create(integration=warehouse)

        assert sync_execute(run=run) is SyncOutcome.SUCCEEDED

    chained = SyncRun.objects.get(integration=tool)
    assert chained.trigger == SyncRun.Trigger.CHAINED
    assert chained.status == SyncRun.Status.FAILED
    assert "task broker did not accept it" in chained.error


def test_reaper_gives_up_on_a_queued_run_no_worker_takes(transactional_db, warehouse_config, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.SYNC_MAX_RESENDS = 1
    integration = integration_create(connector_key="postgres", name="idle", config=warehouse_config)
    long_ago = timezone.now() - timedelta(hours=3)
    run = SyncRun.objects.create(integration=integration, queued_at=long_ago, sends=1)
    SyncRun.objects.filter(pk=run.pk).update(created_at=long_ago)

    assert sync_reap_stale() == [run.pk]

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "No worker started this sync in 180 minutes" in run.error
    assert "consumes the queue" in run.error
    assert sync_reap_stale() == []
