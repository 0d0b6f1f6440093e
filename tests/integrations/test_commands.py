"""The operator commands: integration_add, sync and credentials_rotate."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from integrations.models import Integration, SyncRun

pytestmark = pytest.mark.django_db


def test_integration_add_reads_settings_and_secrets_from_a_file(tmp_path, warehouse_config):
    path = tmp_path / "pg.json"
    path.write_text(json.dumps({**warehouse_config, "password": "from-file"}))
    out = io.StringIO()

    call_command("integration_add", "postgres", "--name", "wh", "--config", str(path), stdout=out)

    integration = Integration.objects.get(name="wh")
    assert integration.config["password"] == "from-file"
    assert f"Created integration {integration.pk} 'wh' (postgres)" in out.getvalue()
    assert "from-file" not in out.getvalue()


def test_integration_add_reads_stdin(monkeypatch, warehouse_config):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(warehouse_config)))
    call_command(
        "integration_add", "postgres", "--name", "wh", "--config", "-", stdout=io.StringIO()
    )
    assert Integration.objects.filter(name="wh", connector="postgres").exists()


def test_integration_add_reports_invalid_settings_by_field(tmp_path, warehouse_config):
    path = tmp_path / "pg.json"
    path.write_text(json.dumps({**warehouse_config, "port": 70000, "password": "pw-not-echoed"}))
    with pytest.raises(CommandError) as caught:
        call_command("integration_add", "postgres", "--name", "wh", "--config", str(path))
    assert "port: Ensure this value is less than or equal to 65535." in str(caught.value)
    assert "pw-not-echoed" not in str(caught.value)
    assert not Integration.objects.exists()


def test_integration_add_runs_the_connection_test(tmp_path, warehouse_config):
    path = tmp_path / "pg.json"
    path.write_text(json.dumps({**warehouse_config, "database": "nope_db"}))
    with pytest.raises(CommandError, match="Database 'nope_db' does not exist"):
        call_command("integration_add", "postgres", "--name", "wh", "--config", str(path))


def test_integration_add_rejects_malformed_json(tmp_path):
    path = tmp_path / "pg.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="Could not read the config"):
        call_command("integration_add", "postgres", "--name", "wh", "--config", str(path))


def test_integration_add_takes_no_secret_on_the_command_line():
    with pytest.raises(CommandError):
        call_command("integration_add", "postgres", "--name", "wh", "--password", "x")


def test_sync_of_an_unknown_integration_says_so():
    with pytest.raises(CommandError, match="No integration named or numbered 'ghost'"):
        call_command("sync", "ghost")


@pytest.mark.worker
def test_sync_wait_exits_cleanly_on_success_and_with_the_error_on_failure(worker, warehouse_config):
    integration = Integration.objects.create(
        connector="postgres", name="wh", config=warehouse_config
    )
    out = io.StringIO()
    call_command("sync", str(integration.pk), "--wait", "--timeout", "90", stdout=out)
    assert "succeeded" in out.getvalue()
    assert SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED

    integration.config = {**warehouse_config, "database": "gone_db"}
    integration.save()
    with pytest.raises(CommandError, match=r"Sync #\d+ failed: Database 'gone_db' does not exist"):
        call_command("sync", "wh", "--wait", "--timeout", "90", stdout=io.StringIO())


def test_credentials_rotate_reencrypts_values_written_under_the_previous_key(
    settings, warehouse_config
):
    from django_cryptography.utils.crypto import FernetBytes

    from integrations.credentials import _derive

    integration = Integration.objects.create(
        connector="postgres", name="wh", config={**warehouse_config, "password": "rotate-me"}
    )
    # Re-encrypt the stored value under an "old" key, as if written before the rotation.
    import pickle

    old_key = "the-old-credentials-key"
    raw = FernetBytes(_derive(old_key)).encrypt(pickle.dumps(integration.config))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE integrations_integration SET config = %s WHERE id = %s", [raw, integration.pk]
        )

    settings.CREDENTIALS_KEY_PREVIOUS = []
    with pytest.raises(CommandError, match="add the key they were written with"):
        call_command("credentials_rotate", stdout=io.StringIO())

    settings.CREDENTIALS_KEY_PREVIOUS = [old_key]
    out = io.StringIO()
    call_command("credentials_rotate", stdout=out)
    assert "1 re-encrypted, 0 already on the current key, 0 unreadable" in out.getvalue()
    assert Integration.objects.get(pk=integration.pk).config["password"] == "rotate-me"
    out = io.StringIO()
    call_command("credentials_rotate", stdout=out)
    assert "0 re-encrypted, 1 already on the current key" in out.getvalue()


def _integration_add_process(config: str) -> subprocess.CompletedProcess:
    """The command as an operator runs it, so that its exit status and output are real."""
    return subprocess.run(
        [sys.executable, "manage.py", "integration_add", "postgres", "--name", "wh"]
        + ["--config", "-"],
        input=config,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": "sqlite:///:memory:"},
        timeout=120,
    )


def test_integration_add_refuses_deeply_nested_json_with_a_message_not_a_traceback():
    done = _integration_add_process("[" * 200_000)
    assert done.returncode != 0
    assert "The config is not valid JSON: nested too deeply." in done.stderr
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


@pytest.mark.parametrize(
    "config, message",
    [
        ('{"host": ' * 30 + "1" + "}" * 30, "nested too deeply"),
        ('{"host": "' + "x" * 1_100_000 + '"}', "larger than 1,000,000 characters"),
        ('{"port": ' + "9" * 5000 + "}", "Could not read the config"),
    ],
    ids=["deep but parseable", "too large", "huge number"],
)
def test_integration_add_refuses_oversized_configs_before_using_them(tmp_path, config, message):
    path = tmp_path / "pg.json"
    path.write_text(config)
    with pytest.raises(CommandError, match=message):
        call_command("integration_add", "postgres", "--name", "wh", "--config", str(path))
    assert not Integration.objects.exists()
