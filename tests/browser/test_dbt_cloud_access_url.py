"""An admin types URL-confusion tricks into dbt Cloud's access URL field in Chromium: each is
refused beside the field, and the attacker's server they point at hears nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integrations.models import Integration
from tests.browser.conftest import log_in
from tests.factories import admin_user, postgres_integration
from tests.support.capturing_server import CapturingServer

pytestmark = pytest.mark.browser

TOKEN = "dbtc_Typed_In_Chromium"


@pytest.fixture
def attacker(monkeypatch, settings):
    """A capturing HTTPS server whose certificate requests trusts, like a real attacker's."""
    server = CapturingServer().start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP = True
    yield server
    server.stop()


def test_url_tricks_typed_in_the_connect_form_are_refused_and_reach_no_server(
    page, live_server, transactional_db, attacker, screenshots
):
    postgres_integration({"host": "127.0.0.1", "port": 5432, "database": "w", "user": "u"})
    admin_user()
    log_in(page, live_server, "alice-admin", "pw-for-tests-1")
    tricks = [
        (f"https://{attacker.authority}\\@ab123.us1.dbt.com", "must not contain a backslash"),
        (f"https://ab123.us1.dbt.com@{attacker.authority}", "must not contain @ or a user name"),
        ("https://ab123.us1.\u0501bt.com", "ab123.us1.xn--bt-32c.com is not a dbt Cloud host"),
    ]
    page.goto(f"{live_server.url}/integrations/new/dbt_cloud/")
    for number, (url, message) in enumerate(tricks, start=1):
        page.fill("#id_name", "dbt prod")
        page.fill("#id_account_id", "7")
        page.fill("#id_access_url", url)
        page.fill("#id_token", TOKEN)
        with page.expect_navigation():
            page.click("#test-connection" if number % 2 else "#connect-form input[name=_save]")
        assert attacker.tokens_received() == [], url
        expect(page.locator("#id_access_url-errors")).to_contain_text(message)
        expect(page.locator("#id_access_url")).to_have_value(url)  # as typed, to correct it
        expect(page.locator("#test-result")).to_have_count(0)
        page.screenshot(path=screenshots / f"08-dbt-cloud-url-trick-{number}.png", full_page=True)
        assert TOKEN not in page.content()

    assert attacker.tokens_received() == []
    assert attacker.requests == [] and attacker.connections == 0
    assert not Integration.objects.filter(connector="dbt_cloud").exists()
