"""Shared fixtures: real PostgreSQL warehouses, a real Redis broker and a real Celery worker."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.support.postgres import PrivateCluster, shared_server
from tests.support.worker import WorkerProcess

OUTPUT_DIR = Path(
    os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parent.parent / "test-output")
)


def pytest_configure(config) -> None:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def pg_server():
    return shared_server()


@pytest.fixture
def warehouse(pg_server):
    """A fresh database restored from the real jaffle_shop dump; yields its name."""
    name = pg_server.create_database("wh")
    pg_server.restore(name)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def warehouse_config(pg_server, warehouse) -> dict:
    return pg_server.integration_config(warehouse)


@pytest.fixture(scope="session")
def password_cluster():
    """A private PostgreSQL server that really checks passwords."""
    cluster = PrivateCluster()
    server = cluster.start()
    yield server
    cluster.stop()


def _require_real_services() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail(
            "The worker tests need the catalog on PostgreSQL: set DATABASE_URL=postgres://... "
            "(the README's test command does)."
        )
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail(
            "The worker tests need CELERY_BROKER_URL=redis://... (the README's test command sets it)."
        )
    redis.Redis.from_url(settings.CELERY_BROKER_URL).ping()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def start_worker(
    name: str, *, queue: str = "", options: tuple[str, ...] | None = None, **env: str
) -> WorkerProcess:
    """A worker on a queue of its own (or on `queue`, beside another worker)."""
    from config.celery import app

    queue = queue or f"test-{name}-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        queue=queue,
        database_url=_database_url(),
        log_path=OUTPUT_DIR / "workers" / f"{queue}-{name}.log",
        node=f"{name}-{queue}",
        env={"CELERY_BROKER_URL": settings.CELERY_BROKER_URL, **env},
        **({} if options is None else {"options": options}),
    )
    app.conf.task_default_queue = queue
    return worker.start()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """One worker for the session, on its own queue; tasks sent by the tests go there."""
    _require_real_services()
    worker = start_worker(
        "session",
        SYNC_MAX_ATTEMPTS="2",
        SYNC_RETRY_BACKOFF="1",
        DBT_CLOUD_BACKOFF="0.05",
        DBT_CLOUD_MAX_BACKOFF="0.2",
        DBT_CLOUD_TIMEOUT="5",
        # The stand-in dbt Cloud is plain http on 127.0.0.1; the client checks it again.
        DBT_CLOUD_ALLOW_LOOPBACK_HTTP="true",
    )
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, plus closing what workers and server threads left connected, so
    that the test database can be dropped at the end."""
    yield
    with django_db_blocker.unblock():
        _close_other_sessions()


def _close_other_sessions() -> None:
    """Workers killed mid-query can leave a backend behind; the test database can only be
    dropped once they are gone."""
    import psycopg
    from django.db import connection

    connection.close()  # this thread's own connection; Django reconnects when needed
    with psycopg.connect(_database_url().rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [settings.DATABASES["default"]["NAME"]],
        )


@pytest.fixture
def worker(celery_worker_process, transactional_db):
    """The session worker, with this test's rows committed so that it can see them."""
    from config.celery import app

    app.conf.task_default_queue = celery_worker_process.queue
    return celery_worker_process


@pytest.fixture
def dbt_cloud(settings):
    """A running stand-in dbt Cloud API; the integration's access URL may point at it."""
    from tests.support.dbt_cloud_standin import DbtCloudStandin

    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    standin = DbtCloudStandin().start()
    yield standin
    standin.stop()
