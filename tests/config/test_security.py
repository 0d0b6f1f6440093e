"""Every response carries a Content-Security-Policy that allows no inline script, no eval and
no plugin, and the templates need none of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.test import Client
from django.urls import path, reverse

from catalog.models import DbtExposure, Table
from integrations.models import Integration
from tests.config.test_access import catalog, urls  # noqa: F401 - fixtures: one URL per route
from tests.factories import admin_user

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(response) -> dict[str, list[str]]:
    assert HEADER in response.headers, f"{response.status_code} without {HEADER}"
    parsed = {}
    for part in response.headers[HEADER].split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def test_the_policy_allows_script_and_style_from_this_site_only():
    policy = directives(Client().get("/login/"))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    everything = " ".join(s for sources in policy.values() for s in sources)
    assert "unsafe" not in everything and "*" not in everything and "data:" not in everything


def test_every_route_answers_with_the_policy(client, urls):  # noqa: F811
    client.force_login(admin_user())
    answers = {name: client.get(url) for name, url in urls.items()}
    assert {name: r.status_code for name, r in answers.items() if HEADER not in r.headers} == {}


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/login/",
        "/catalog/",
        "/catalog/?q=customers",
        "/integrations/",
        "/admin/",
        "/admin/login/",
        "/api/v1/search/?q=customers",
        "/api/v1/schema/",
        "/static/js/gallery.js",
    ],
)
def test_anonymous_answers_carry_the_policy_too(client, url):
    response = client.get(url)
    assert response.status_code in (200, 302, 401, 404)
    assert directives(response)["script-src"] == ["'self'"]


def test_pages_of_django_admin_carry_the_policy(client, catalog):  # noqa: F811
    client.force_login(User.objects.create_superuser("root2", password="pw-for-tests-1"))
    table = Table.objects.get(name="customers")
    pages = [
        reverse("admin:index"),
        reverse("admin:catalog_table_changelist"),
        reverse("admin:catalog_table_change", args=[table.pk]),
        reverse("admin:catalog_dbtexposure_change", args=[DbtExposure.objects.get().pk]),
        reverse("admin:integrations_integration_changelist"),
        reverse("admin:integrations_integration_change", args=[Integration.objects.first().pk]),
        reverse("admin:auth_user_add"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response)["script-src"] == ["'self'"], url


def test_error_answers_carry_the_policy(client, db):
    client.force_login(admin_user())
    not_found = client.get("/catalog/tables/999999/")
    bad = client.get("/catalog/", {"q": "a\x00b"})
    api_write = client.post("/api/v1/search/")
    no_role = Client()
    no_role.force_login(User.objects.create_user("newcomer", password="pw-for-tests-1"))
    refused = no_role.get("/catalog/")
    assert [r.status_code for r in (not_found, bad, api_write, refused)] == [404, 400, 405, 403]
    for response in (not_found, bad, api_write, refused):
        assert directives(response)["script-src"] == ["'self'"]


def test_a_csrf_failure_carries_the_policy_and_needs_no_inline_style(db):
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x"})
    body = response.content.decode()
    assert response.status_code == 403 and 'id="csrf-failure"' in body
    assert directives(response)["style-src"] == ["'self'"]
    assert "<style" not in body and "style=" not in body


def _fails(request):
    raise RuntimeError("a bug")


urlpatterns = [path("fails/", login_not_required(_fails))]


@pytest.mark.urls(__name__)
def test_a_server_error_carries_the_policy(client):
    client.raise_request_exception = False
    response = client.get("/fails/")
    assert response.status_code == 500
    assert directives(response)["script-src"] == ["'self'"]


# -- the templates need nothing the policy refuses -------------------------------------------

INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "javascript: URL": re.compile(r"javascript\s*:", re.I),
    # A URL from data goes through {% external_link %}; these few are built by the views.
    "href or src from a variable": re.compile(
        r"""\b(?:href|src|action)=["']?\{\{(?!\s*(?:back|warehouse_anchor)\s*\}\})""", re.I
    ),
}


@pytest.mark.parametrize("what", INLINE)
def test_no_template_has_what_the_policy_refuses(what):
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE[what].search(line)
    ]
    assert found == []


SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def test_every_route_answers_with_the_safety_headers(client, urls):  # noqa: F811
    client.force_login(admin_user())
    wrong = {}
    for name, url in [*urls.items(), ("login", "/login/"), ("static", "/static/js/gallery.js")]:
        response = client.get(url)
        got = {header: response.headers.get(header) for header in SAFETY_HEADERS}
        if got != SAFETY_HEADERS:
            wrong[name] = got
    assert wrong == {}


def login_cookies(client, *, secure: bool):
    User.objects.create_user("ann", password="pw-for-tests-1")
    client.get("/login/", secure=secure)  # the CSRF cookie is set on the form page
    csrf = client.cookies["csrftoken"]
    response = client.post(
        "/login/",
        {"username": "ann", "password": "pw-for-tests-1", "csrfmiddlewaretoken": csrf.value},
        secure=secure,
        # Over HTTPS, Django's CSRF check wants the Referer a browser sends.
        headers={"referer": "https://testserver/login/"} if secure else {},
    )
    assert response.status_code == 302
    return response.cookies[settings.SESSION_COOKIE_NAME], csrf


def test_the_session_and_csrf_cookies_are_httponly_and_lax(db):
    session, csrf = login_cookies(Client(enforce_csrf_checks=True), secure=False)
    for cookie in (session, csrf):
        assert cookie["httponly"] and cookie["samesite"] == "Lax", cookie.key
        # Over plain HTTP (a laptop), a Secure cookie would never come back.
        assert not cookie["secure"], cookie.key


def test_over_https_the_cookies_are_secure(db):
    session, csrf = login_cookies(Client(enforce_csrf_checks=True), secure=True)
    assert session["secure"] and csrf["secure"]
    assert session["httponly"] and session["samesite"] == "Lax"
