"""The dbt Cloud connector's form, guard and connection test (against the stand-in API)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from requests.adapters import HTTPAdapter

from integrations.connectors import dbt_cloud as dbt_cloud_connector
from integrations.connectors.base import ConnectorError
from integrations.connectors.dbt_cloud import DbtCloudForm
from integrations.connectors.dbt_cloud_api import DbtCloudClient
from integrations.models import Integration
from integrations.services import IntegrationRequirementMissing, integration_create
from tests.factories import dbt_cloud_account, postgres_integration


def form(**data) -> DbtCloudForm:
    values = {"account_id": "12345", "access_url": "https://ab123.us1.dbt.com", "token": "dbtc_x"}
    values.update(data)
    return DbtCloudForm(data=values)


@pytest.mark.parametrize(
    "url, stored",
    [
        ("https://ab123.us1.dbt.com", "https://ab123.us1.dbt.com"),
        ("https://xy9.eu2.dbt.com/", "https://xy9.eu2.dbt.com"),
        ("https://emea.dbt.com", "https://emea.dbt.com"),
        ("https://au.dbt.com", "https://au.dbt.com"),
        ("https://AB123.US3.DBT.COM", "https://ab123.us3.dbt.com"),
    ],
)
def test_dbt_cloud_hosts_are_accepted_and_stored_rebuilt_from_their_parse(url, stored):
    f = form(access_url=url)
    assert f.is_valid(), f.errors
    assert f.cleaned_data["access_url"] == stored


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://cloud.getdbt.com", "must start with https://"),
        ("https://evil.example.com", "is not a dbt Cloud host"),
        ("https://cloud.getdbt.com.evil.io", "is not a dbt Cloud host"),
        ("https://cloud.getdbt.com", "stopped serving integrations on 1 November 2026"),
        ("https://acme.getdbt.com/", "stopped serving integrations on 1 November 2026"),
        ("https://ab123.us9.dbt.com", "is not a dbt Cloud host"),
        ("https://cloud.getdbt.com/settings/accounts/1", "without a path"),
        ("http://127.0.0.1:8000", "must start with https://"),
        ("cloud.getdbt.com", "must start with https://"),
    ],
)
def test_other_access_urls_are_refused_with_the_reason(url, message):
    f = form(access_url=url)
    assert not f.is_valid()
    assert message in f.errors["access_url"][0]


def test_an_admin_setting_allows_a_single_tenant_host(settings):
    assert not form(access_url="https://acme.dbt-cloud.example").is_valid()
    assert not form(access_url="https://acme.getdbt.com").is_valid()
    settings.DBT_CLOUD_EXTRA_HOSTS = ["acme.dbt-cloud.example", "acme.getdbt.com"]
    assert form(access_url="https://acme.dbt-cloud.example").is_valid()
    assert form(access_url="https://acme.getdbt.com").is_valid()


def test_the_form_suggests_an_account_url_not_a_retired_host():
    rendered = str(DbtCloudForm()["access_url"])
    assert 'placeholder="https://ab123.us1.dbt.com"' in rendered
    assert "getdbt.com" not in rendered


def test_loopback_http_needs_the_setting(settings):
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = False
    assert not form(access_url="http://127.0.0.1:8000").is_valid()
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    assert form(access_url="http://127.0.0.1:8000").is_valid()
    assert not form(access_url="http://10.1.2.3:8000").is_valid()  # loopback only


@pytest.mark.parametrize(
    "account_id, ok",
    [
        ("70403103922125", True),
        ("1", True),
        ("0", False),
        ("-4", False),
        ("abc", False),
        ("1.5", False),
    ],
)
def test_account_id_is_a_positive_integer_and_may_be_long(account_id, ok):
    assert form(account_id=account_id).is_valid() is ok


@pytest.mark.django_db
def test_the_service_refuses_dbt_cloud_before_any_warehouse(dbt_cloud):
    dbt_cloud.add_account(7, "Acme")
    config = {"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token}
    with pytest.raises(IntegrationRequirementMissing):
        integration_create(connector_key="dbt_cloud", name="dbt", config=config)
    assert not dbt_cloud.state.requests  # refused before any call to dbt Cloud


@pytest.mark.django_db
def test_the_management_command_cannot_bypass_the_guard(tmp_path, dbt_cloud):
    path = tmp_path / "dbt.json"
    path.write_text(json.dumps({"account_id": 7, "access_url": dbt_cloud.url, "token": "t"}))
    with pytest.raises(CommandError, match="connect one of the warehouses and databases first"):
        call_command("integration_add", "dbt_cloud", "--name", "dbt", "--config", str(path))
    assert not Integration.objects.exists()


@pytest.mark.django_db
def test_connecting_dbt_cloud_calls_the_api_once_a_warehouse_exists(dbt_cloud, warehouse_config):
    postgres_integration(warehouse_config)
    dbt_cloud.add_account(70403103922125, "Acme Analytics")
    config = {
        "account_id": 70403103922125,
        "access_url": dbt_cloud.url,
        "token": dbt_cloud.state.token,
    }

    integration = integration_create(connector_key="dbt_cloud", name="dbt", config=config)

    assert integration.config["access_url"] == dbt_cloud.url
    call = dbt_cloud.state.requests[-1]
    assert call["path"] == "/api/v2/accounts/70403103922125/"  # trailing slash sent
    assert call["authorization"] == f"Token {dbt_cloud.state.token}"


def test_test_connection_names_the_account(dbt_cloud):
    dbt_cloud.add_account(7, "Acme Analytics")
    message = dbt_cloud_connector.test_connection(
        {"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token}
    )
    assert message == "Connected to dbt Cloud account “Acme Analytics”."


def test_a_refused_token_says_to_check_the_token_and_the_access_url(dbt_cloud):
    dbt_cloud.add_account(7, "Acme")
    with pytest.raises(ConnectorError) as caught:
        dbt_cloud_connector.test_connection(
            {"account_id": 7, "access_url": dbt_cloud.url, "token": "dbtc_wrong_Secret"}
        )
    message = str(caught.value)
    assert "Invalid token." in message and "service token" in message and "access URL" in message
    assert "dbtc_wrong_Secret" not in message


class RoutedToStandin(HTTPAdapter):
    """Sends what the client addresses to `host` to the stand-in instead: the client keeps
    its retired access URL while the exchange is a real one."""

    def __init__(self, host: str, standin_url: str) -> None:
        super().__init__()
        self.host, self.standin_url = host, standin_url

    def send(self, request, **kwargs):
        request.url = request.url.replace(self.host, self.standin_url, 1)
        return super().send(request, **kwargs)


def test_a_refused_token_on_a_retired_host_says_the_host_is_retired(dbt_cloud):
    dbt_cloud.add_account(7, "Acme")
    client = DbtCloudClient(access_url="https://cloud.getdbt.com", token="dbtc_x", account_id=7)
    client.session.mount(
        "https://cloud.getdbt.com", RoutedToStandin("https://cloud.getdbt.com", dbt_cloud.url)
    )
    with pytest.raises(ConnectorError) as caught:
        client.account()
    message = str(caught.value)
    assert "Invalid token." in message
    assert "cloud.getdbt.com stopped serving integrations on 1 November 2026" in message
    assert "Account settings → Access URLs" in message


def test_an_account_the_token_cannot_see_says_to_check_the_account_id(dbt_cloud):
    with pytest.raises(ConnectorError, match="Check the account ID"):
        dbt_cloud_connector.test_connection(
            {"account_id": 99, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token}
        )


@pytest.mark.django_db
def test_form_post_with_a_bad_token_keeps_input_but_not_the_token(
    client, dbt_cloud, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    postgres_integration(warehouse_config)
    dbt_cloud.add_account(7, "Acme")
    response = client.post(
        "/integrations/new/dbt_cloud/",
        {
            "name": "dbt prod",
            "account_id": "7",
            "access_url": dbt_cloud.url,
            "token": "dbtc_typed_Wrong",
        },
    )
    body = response.content.decode()
    assert "Connection test failed: dbt Cloud refused the token" in body
    assert 'value="dbt prod"' in body and f'value="{dbt_cloud.url}"' in body
    assert "dbtc_typed_Wrong" not in body
    assert Integration.objects.filter(connector="dbt_cloud").count() == 0


@pytest.mark.django_db
def test_edit_form_lists_projects_environments_and_jobs_from_the_api(
    client, dbt_cloud, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    postgres_integration(warehouse_config)
    dbt_cloud_account(dbt_cloud)
    dbt_cloud.add_job(7001, 70, 700, "PR checks", job_type="ci", cron=None)
    config = {"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token}
    integration = integration_create(connector_key="dbt_cloud", name="dbt", config=config)

    page = client.get(f"/integrations/{integration.pk}/edit/")
    form = page.context["form"]
    assert ("7000", "Nightly build — Production · scheduled") in form.fields["job_ids"].choices
    assert ("7001", "PR checks — Production, ci · scheduled") in form.fields["job_ids"].choices
    assert ("70", "analytics") in form.fields["project_ids"].choices
    assert "Nightly build" in page.content.decode()

    response = client.post(
        f"/integrations/{integration.pk}/edit/",
        {
            "name": "dbt",
            "account_id": "7",
            "access_url": dbt_cloud.url,
            "token": "",
            "description_policy": "fill",
            "job_ids": ["7000"],
        },
    )
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.config["job_ids"] == ["7000"]
    assert integration.config["token"] == dbt_cloud.state.token


@pytest.mark.django_db
def test_edit_form_keeps_typed_ids_when_dbt_cloud_cannot_be_reached(
    client, dbt_cloud, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    postgres_integration(warehouse_config)
    dbt_cloud.add_account(7, "Acme")
    config = {"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token}
    integration = integration_create(connector_key="dbt_cloud", name="dbt", config=config)
    dbt_cloud.state.token = "revoked"
    page = client.get(f"/integrations/{integration.pk}/edit/")
    assert (
        "Could not list them from dbt Cloud: dbt Cloud refused the token" in page.content.decode()
    )
    assert "revoked" not in page.content.decode()


@pytest.mark.django_db
def test_connect_form_lists_the_jobs_once_the_typed_credentials_pass_the_test(
    client, dbt_cloud, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    postgres_integration(warehouse_config)
    dbt_cloud_account(dbt_cloud)
    typed = {"name": "dbt prod", "account_id": "7", "access_url": dbt_cloud.url}

    tested = client.post(
        "/integrations/new/dbt_cloud/",
        {**typed, "token": dbt_cloud.state.token, "project_ids": "70, 71", "_test": "1"},
    )
    form = tested.context["form"]
    assert ("7000", "Nightly build — Production · scheduled") in form.fields["job_ids"].choices
    assert form.fields["project_ids"].choices == [
        ("70", "analytics"),
        ("71", "71 (not found in dbt Cloud)"),
    ]
    body = tested.content.decode()
    assert 'name="project_ids" value="70" id="id_project_ids_0" checked' in body
    assert 'name="project_ids" value="71" id="id_project_ids_1" checked' in body
    assert 'name="job_ids" value="7000" id="id_job_ids_0">' in body  # not typed: not ticked
    assert 'type="checkbox" name="job_ids" value="7002"' in body
    assert dbt_cloud.state.token not in body
    assert "Type the service token again before you connect" in body
    assert Integration.objects.filter(connector="dbt_cloud").count() == 0

    connected = client.post(
        "/integrations/new/dbt_cloud/",
        {**typed, "token": dbt_cloud.state.token, "job_ids": ["7000", "7002"], "_save": "1"},
    )
    assert connected.status_code == 302
    integration = Integration.objects.get(connector="dbt_cloud")
    assert integration.config["job_ids"] == ["7000", "7002"]


def test_typed_ids_must_be_numbers():
    f = form(job_ids="7000, nightly", project_ids="70\n71")
    assert not f.is_valid()
    assert "nightly is not" in f.errors["job_ids"][0]
    assert "project_ids" not in f.errors


@pytest.mark.django_db
def test_a_chosen_job_dbt_cloud_no_longer_lists_stays_offered_and_says_so(
    client, dbt_cloud, warehouse_config
):
    from tests.factories import admin_user

    client.force_login(admin_user())
    postgres_integration(warehouse_config)
    dbt_cloud_account(dbt_cloud)
    config = {
        "account_id": 7,
        "access_url": dbt_cloud.url,
        "token": dbt_cloud.state.token,
        "job_ids": ["7000", "6999"],
    }
    integration = integration_create(connector_key="dbt_cloud", name="dbt", config=config)

    page = client.get(f"/integrations/{integration.pk}/edit/")
    choices = page.context["form"].fields["job_ids"].choices
    assert ("6999", "6999 (not found in dbt Cloud)") in choices
    assert page.context["form"].initial["job_ids"] == ["7000", "6999"]
    response = client.post(
        f"/integrations/{integration.pk}/edit/",
        {
            "name": "dbt",
            "account_id": "7",
            "access_url": dbt_cloud.url,
            "job_ids": ["7000", "6999"],
        },
    )
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.config["job_ids"] == ["7000", "6999"]


def client_recording_waits(dbt_cloud, waits: list) -> DbtCloudClient:
    return DbtCloudClient(
        access_url=dbt_cloud.url,
        token=dbt_cloud.state.token,
        account_id=7,
        backoff=2.0,
        rate_limit_backoff=60.0,
        max_backoff=300.0,
        max_attempts=5,
        sleep=waits.append,
    )


def test_a_429_without_retry_after_waits_out_the_cooldown_instead_of_hammering(dbt_cloud):
    dbt_cloud.add_account(7, "Acme")
    dbt_cloud.fail_next(r"/accounts/7/$", 429, times=4)
    waits: list[float] = []

    assert client_recording_waits(dbt_cloud, waits).account()["name"] == "Acme"

    assert len(waits) == 4
    assert 60 <= waits[0] <= 90 and 120 <= waits[1] <= 180  # doubling, with jitter
    assert 240 <= waits[2] <= 300 and waits[3] == 300  # capped near the five-minute cooldown


def test_a_429_with_retry_after_waits_as_told_and_a_500_backs_off_briefly(dbt_cloud):
    dbt_cloud.add_account(7, "Acme")
    dbt_cloud.fail_next(r"/accounts/7/$", 429, headers={"Retry-After": "7"})
    dbt_cloud.fail_next(r"/accounts/7/$", 500)
    waits: list[float] = []

    client_recording_waits(dbt_cloud, waits).account()

    assert waits[0] == 7
    assert 4 <= waits[1] <= 6  # the second attempt's backoff: 2 x 2, plus jitter


def test_a_long_wait_keeps_telling_the_run_it_is_alive(monkeypatch):
    from tests.support.reporting import RecordingReporter

    monkeypatch.setattr(dbt_cloud_connector, "ALIVE_EVERY", 0.02)
    reporter = RecordingReporter()
    dbt_cloud_connector.sleeping_alive(reporter)(0.1)
    assert reporter.alive_calls >= 5


@pytest.mark.django_db
def test_being_alive_moves_the_runs_heartbeat(warehouse_config):
    from integrations.models import SyncRun
    from integrations.services.run_attempt import Attempt, StaleAttempt
    from integrations.services.sync import RunReporter

    run = SyncRun.objects.create(
        integration=postgres_integration(warehouse_config),
        status=SyncRun.Status.RUNNING,
        attempts=1,
    )
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=None)
    RunReporter(Attempt(run), run, secrets=[]).alive()
    run.refresh_from_db()
    assert run.heartbeat_at is not None
    # An attempt that was taken over beats no more: it is told to stop.
    SyncRun.objects.filter(pk=run.pk).update(attempts=2)
    with pytest.raises(StaleAttempt):
        RunReporter(Attempt(run), run, secrets=[]).alive()
