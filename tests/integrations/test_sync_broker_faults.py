"""The broker fails while syncs are queued or running: nothing is lost or left stuck."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest

from catalog.models import Table
from integrations.models import SyncRun
from integrations.services import integration_create, sync_start
from tests.conftest import _database_url, _require_real_services, start_worker
from tests.support.redis_server import PrivateRedis
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


@contextmanager
def broker(url: str):
    """Point this process's Celery app at another broker, and back afterwards."""
    from config.celery import app

    def reset() -> None:
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        app.amqp._producer_pool = None

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
                lambda: all(
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
