"""The guards every request passes: a role for every page, and no NUL in a query parameter.

Routes are read from the URL resolver, so a page added later is checked without being listed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import SlugConverter

from catalog.api.openapi import openapi_document
from catalog.models import ApiToken, Column, DbtExposure, DbtTerm, Table
from integrations.models import SyncRun
from tests.catalog.conftest import build_jaffle_catalog
from tests.factories import admin_user, analyst_user

pytestmark = pytest.mark.django_db

GUARDED_NAMESPACES = ("catalog", "integrations", "account", "api")
# GET answers other than 200/302 that a role does not change.
MANAGER_ONLY = {"integrations:connect", "integrations:edit", "integrations:disconnect"}
POST_ONLY = {"integrations:sync", "integrations:schedule", "account:token-revoke"}
NO_ROLE = "Your account has no role yet"


def guarded_routes() -> list[tuple[str, dict]]:
    """(namespace:name, {kwarg: converter}) of every route of the catalog, the
    integrations, the account pages and the API."""
    found = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in GUARDED_NAMESPACES:
                found.append((f"{namespace}:{pattern.name}", pattern.pattern.converters))

    walk(get_resolver().url_patterns, None)
    return found


def test_the_routes_are_found():
    names = {name for name, _ in guarded_routes()}
    assert {"catalog:home", "catalog:table-edit", "integrations:sync", "api:search"} <= names
    assert "account:tokens" in names and len(names) >= 25


@pytest.fixture
def catalog(warehouse_config):
    warehouse, _dbt = build_jaffle_catalog(warehouse_config)
    superuser = User.objects.create_superuser(
        "root", email="root@example.com", password="pw-for-tests-1", first_name="Rita"
    )
    superuser.last_name = "Root"
    superuser.save()
    return warehouse


def catalog_owner() -> User:
    return User.objects.create_user("token-owner", password="pw-for-tests-1")


@pytest.fixture
def urls(catalog):
    """One URL per route, naming objects that exist."""
    table = Table.objects.select_related("schema__database").get(name="customers")
    run = SyncRun.objects.filter(integration=catalog).first()
    objects = {
        "integrations": {"pk": catalog.pk, "run_id": run.pk, "key": "postgres"},
        "catalog:column-edit": {"pk": Column.objects.filter(table=table).first().pk},
        "catalog:exposure": {"pk": DbtExposure.objects.first().pk},
        "catalog:term": {"pk": DbtTerm.objects.first().pk},
        "account:token-revoke": {"pk": ApiToken.issue(user=catalog_owner(), name="t")[0].pk},
    }
    queries = {
        "api:table-by-path": f"?path={table.schema.database.name}.{table.schema.name}.customers"
    }
    built = {}
    for name, converters in guarded_routes():
        given = objects.get(name) or objects.get(name.split(":")[0]) or {}
        kwargs = {
            key: given.get(key, "postgres" if isinstance(converter, SlugConverter) else table.pk)
            for key, converter in converters.items()
        }
        built[name] = reverse(name, kwargs=kwargs) + queries.get(name, "")
    return built


@pytest.fixture
def no_role_client(client, db):
    client.force_login(User.objects.create_user("newcomer", password="pw-for-tests-1"))
    return client


def refusal(response) -> str:
    """The no-role message of a 403, from the JSON of the API or the HTML of a page."""
    if response.status_code != 403:
        return f"answered {response.status_code}"
    if response["Content-Type"].startswith("application/json"):
        return response.json()["error"]
    return response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_page_refuses_an_account_without_a_role_and_says_whom_to_ask(
    no_role_client, urls, method
):
    wrong = {}
    for name, url in urls.items():
        if method == "post" and name.startswith("api:"):
            continue  # a write method gets the read API's 405 before anything (tests/catalog)
        text = refusal(getattr(no_role_client, method)(url))
        if NO_ROLE not in text or "Rita Root (root@example.com)" not in text:
            wrong[name] = text[:200]
    assert wrong == {}


def test_every_page_answers_an_analyst(client, urls):
    client.force_login(analyst_user())
    statuses = {name: client.get(url).status_code for name, url in urls.items()}
    expected = {
        name: 403 if name in MANAGER_ONLY else 405 if name in POST_ONLY else statuses[name]
        for name in urls
    }
    assert statuses == expected
    assert {s for n, s in statuses.items() if n not in MANAGER_ONLY | POST_ONLY} <= {200, 302}


def test_every_page_answers_an_admin(client, urls):
    client.force_login(admin_user())
    statuses = {name: client.get(url).status_code for name, url in urls.items()}
    assert {n for n, s in statuses.items() if s == 405} == POST_ONLY
    assert {s for n, s in statuses.items() if n not in POST_ONLY} <= {200, 302}


def test_an_account_without_a_role_may_still_log_out_log_in_and_use_django_admin_if_staff(
    client, catalog
):
    newcomer = User.objects.create_user("newcomer", password="pw-for-tests-1", is_staff=True)
    client.force_login(newcomer)
    assert client.get("/admin/").status_code == 200  # Django's own rules: staff, no model
    assert client.get("/login/").status_code == 302  # already logged in
    assert client.post("/logout/").status_code == 302
    assert client.get("/catalog/").status_code == 302  # to the login page, as anyone logged out
    assert (
        client.post("/login/", {"username": "newcomer", "password": "pw-for-tests-1"}).status_code
        == 302
    )


def test_without_anyone_to_name_the_page_says_an_administrator(no_role_client):
    response = no_role_client.get("/catalog/")
    assert response.status_code == 403
    assert "Ask an administrator to add you to the Analysts or Admins group." in (
        response.content.decode()
    )


def test_staff_who_may_change_users_are_named_and_inactive_superusers_are_not(no_role_client):
    from django.contrib.auth.models import Permission

    staff = User.objects.create_user("sam", email="sam@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_user"))
    User.objects.create_user("viewer", is_staff=True)  # staff, but may not give roles
    User.objects.create_superuser("gone", password="x", is_active=False)
    body = no_role_client.get("/integrations/").content.decode()
    assert "Ask sam (sam@example.com) to add you" in body
    assert "viewer" not in body and "gone" not in body


# --- NUL bytes -------------------------------------------------------------------------------


SEARCH_PARAMETERS = [
    p["name"] for p in openapi_document()["paths"]["/search/"]["get"]["parameters"]
]


def test_the_search_parameters_are_read_from_the_openapi_document():
    assert {"q", "integration", "database", "schema", "kind", "tag", "owner"} <= set(
        SEARCH_PARAMETERS
    )


def _nul_statuses(client, base: str, names: list[str], json: bool) -> dict[str, tuple]:
    answers = {}
    for name in names:
        response = client.get(base, {name: "cust\x00omers"})
        body = response.json()["error"] if json else response.content.decode()
        answers[name] = (response.status_code, "NUL character" in body)
    return answers


def test_a_nul_in_any_search_parameter_of_the_search_page_is_a_400(client, catalog):
    client.force_login(analyst_user())
    answers = _nul_statuses(client, "/catalog/", SEARCH_PARAMETERS, json=False)
    assert answers == {name: (400, True) for name in SEARCH_PARAMETERS}


def test_a_nul_in_any_search_parameter_of_the_api_is_a_json_400(client, catalog):
    client.force_login(analyst_user())
    answers = _nul_statuses(client, "/api/v1/search/", SEARCH_PARAMETERS, json=True)
    assert answers == {name: (400, True) for name in SEARCH_PARAMETERS}


def test_a_nul_in_a_table_path_of_the_api_is_a_json_400(client, catalog):
    _token, raw = ApiToken.issue(user=analyst_user(), name="script")
    response = client.get(
        "/api/v1/tables/", {"path": "a.analytics.cust\x00omers"}, HTTP_AUTHORIZATION=f"Token {raw}"
    )
    assert response.status_code == 400 and "NUL character" in response.json()["error"]


def test_a_nul_in_any_parameter_of_any_page_is_a_400(client, urls):
    client.force_login(admin_user())
    answers = {
        name: client.get(url + ("&" if "?" in url else "?") + "x=%00").status_code
        for name, url in urls.items()
    }
    assert answers == {name: 400 for name in urls}
