"""Secrets audited channel by channel, with a canary in every secret field of every connector
in the registry: pages and form re-renders, Django admin, logs at DEBUG, sync run errors,
the export and the read API, the broker's messages, and a pg_dump of the catalog database.
Each channel is read whole and searched for every canary."""

from __future__ import annotations

import json
import logging
import subprocess
import uuid
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from integrations.connectors import CONNECTOR_MODULES, get_connector
from integrations.models import Integration, SyncRun
from tests.factories import admin_user

pytestmark = pytest.mark.django_db


def canary(key: str, field: str) -> str:
    return f"CANARY{key}{field}S3cr3t".replace("_", "")


def canaries() -> list[str]:
    return [
        canary(key, field)
        for key in CONNECTOR_MODULES
        for field in get_connector(key).secret_fields
    ]


def plausible_config(key: str) -> dict:
    """Every field of the connector's form, the secrets set to their canaries."""
    connector = get_connector(key)
    config: dict = {}
    for name, field in connector.form.base_fields.items():
        if name in connector.secret_fields:
            config[name] = canary(key, name)
        elif name == "name":
            continue
        elif field.__class__.__name__ in ("IntegerField", "TypedChoiceField"):
            config[name] = 1
        elif field.__class__.__name__ == "BooleanField":
            config[name] = False
        elif field.__class__.__name__ == "MultipleChoiceField":
            config[name] = []
        elif getattr(field, "choices", None):
            config[name] = next(value for value, _label in field.choices if value)
        else:
            config[name] = "127.0.0.1" if "host" in name else f"value-of-{name}"
    return config


@pytest.fixture
def integrations(db) -> list[Integration]:
    made = []
    for key in CONNECTOR_MODULES:
        assert get_connector(key).secret_fields or key, key
        made.append(
            Integration.objects.create(
                connector=key, name=f"{key} canary", config=plausible_config(key)
            )
        )
    return made


def leaked(text: str) -> list[str]:
    return [c for c in canaries() if c in text]


def test_every_connector_has_its_canaries(integrations):
    stored = {i.connector: i.config for i in Integration.objects.all()}
    for key in CONNECTOR_MODULES:
        for field in get_connector(key).secret_fields:
            assert stored[key][field] == canary(key, field)
    assert len(canaries()) >= len(CONNECTOR_MODULES)


def test_no_page_shows_a_secret_nor_a_form_sent_back_with_an_error(client, integrations):
    client.force_login(admin_user())
    pages = ["/integrations/", "/integrations/new/"]
    for integration in integrations:
        pages += [
            f"/integrations/{integration.pk}/",
            f"/integrations/{integration.pk}/edit/",
            f"/integrations/{integration.pk}/disconnect/",
            f"/integrations/new/{integration.connector}/",
        ]
    found = {url: leaked(client.get(url).content.decode()) for url in pages}
    assert {url: c for url, c in found.items() if c} == {}
    # A form sent back with an error (a bad port, a failed test) holds what was typed but
    # the secret: each connector's connect form, posted with its canaries and a bad value.
    for integration in integrations:
        data = {"name": "", **plausible_config(integration.connector), "test": "1"}
        body = client.post(f"/integrations/new/{integration.connector}/", data).content.decode()
        assert leaked(body) == [], integration.connector
        body = client.post(f"/integrations/{integration.pk}/edit/", data).content.decode()
        assert leaked(body) == [], integration.connector


def test_django_admin_shows_no_secret_in_its_list_change_form_or_history(client, integrations):
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-1"))
    pages = ["/admin/integrations/integration/"]
    for integration in integrations:
        pages += [
            f"/admin/integrations/integration/{integration.pk}/change/",
            f"/admin/integrations/integration/{integration.pk}/history/",
        ]
    found = {url: leaked(client.get(url).content.decode()) for url in pages}
    assert {url: c for url, c in found.items() if c} == {}


def test_a_sync_with_wrong_secrets_fails_saying_nothing_of_them_at_debug(
    integrations, caplog, settings
):
    from integrations.services import sync_execute

    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    settings.SYNC_MAX_ATTEMPTS = 1  # a transient failure ends the run instead of a retry
    caplog.set_level(logging.DEBUG)
    for integration in integrations:
        run = SyncRun.objects.create(integration=integration)
        sync_execute(run=run)
        run.refresh_from_db()
        assert run.status == SyncRun.Status.FAILED, integration.connector
        assert leaked(f"{run.error} {json.dumps(run.warnings)}") == [], integration.connector
    assert leaked(caplog.text) == []


def test_the_export_and_the_read_api_hold_no_secret(client, integrations):
    out = StringIO()
    call_command("catalog_export", stdout=out)
    assert leaked(out.getvalue()) == []
    client.force_login(admin_user())
    for url in ("/api/v1/schema/", "/api/v1/search/?q=canary"):
        assert leaked(client.get(url).content.decode()) == [], url


@pytest.mark.django_db(transaction=True)
def test_the_broker_carries_ids_only(integrations, django_capture_on_commit_callbacks):
    from config.celery import app
    from integrations.services import sync_start

    queue = f"secrets-{uuid.uuid4().hex[:8]}"
    old = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        run = sync_start(integration=integrations[0])
        messages = broker.lrange(queue, 0, -1)
    finally:
        app.conf.task_default_queue = old
        broker.delete(queue)
    assert len(messages) == 1
    raw = messages[0].decode()
    assert leaked(raw) == []
    body = json.loads(raw)
    import base64

    args = json.loads(base64.b64decode(body["body"]))[0]
    assert args == [run.pk]  # the run's id, nothing of its integration


@pytest.mark.django_db(transaction=True)
def test_a_dump_of_the_catalog_database_holds_ciphertext_only(integrations):
    db = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--host",
            db["HOST"] or "127.0.0.1",
            "--port",
            str(db["PORT"] or 5432),
            "--username",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "canary" in dump  # the integrations' names: the dump did read them
    assert leaked(dump) == []
