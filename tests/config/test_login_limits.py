"""Login attempts are rate-limited per account and address (django-axes, configured in
config/settings.py): wrong passwords lock that pair out for a while with a page that says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def ann() -> User:
    return User.objects.create_user("ann", password=PASSWORD)


def log_in(client: Client, password: str, address: str = "10.0.0.7"):
    return client.post("/login/", {"username": "ann", "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_account_out_from_that_address(ann):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form again, with its error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    # Even the right password is refused now, with a page that says why and for how long.
    again = log_in(client, PASSWORD)
    body = again.content.decode()
    assert again.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed logins" in body and "“ann”" in body and "0:15:00" in body
    assert "script-src 'self'" in again.headers["Content-Security-Policy"]
    assert "style=" not in body and "<script>" not in body
    # The attempts are kept for admins without the passwords tried.
    kept = " ".join(f"{a.post_data} {a.get_data}" for a in AccessAttempt.objects.all())
    assert "wrong" not in kept
    assert PASSWORD not in kept
    assert {a.username for a in AccessAttempt.objects.all()} == {"ann"}
    # Another address is not locked out of the account.
    other = Client()
    assert log_in(other, PASSWORD, address="10.0.0.8").status_code == 302


def test_a_good_login_before_the_limit_starts_the_count_again(ann):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200
    assert log_in(client, PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(ann):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 429
    past = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= past
        attempt.save()
    assert log_in(client, PASSWORD).status_code == 302
