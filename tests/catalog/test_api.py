"""The read API: session or personal token, JSON, clear 400s, an OpenAPI document."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import ApiToken, Table
from tests.factories import analyst_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(jaffle_catalog) -> str:
    _token, raw = ApiToken.issue(user=analyst_user(), name="script")
    return raw


def api(raw_token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {raw_token}")


def test_without_credentials_the_api_answers_401_not_a_login_page(client, jaffle_catalog):
    response = client.get("/api/v1/search/?q=customers")
    assert response.status_code == 401 and "Authorization: Token" in response.json()["error"]


def test_a_wrong_token_is_refused(jaffle_catalog):
    response = api("dcat_not-a-token").get("/api/v1/search/?q=x")
    assert response.status_code == 401 and "Unknown or revoked token" in response.json()["error"]


def test_only_a_hash_of_the_token_is_stored_and_its_use_is_recorded(token):
    stored = ApiToken.objects.get()
    assert token not in (stored.key_hash, stored.prefix) and token.startswith(stored.prefix)
    assert stored.last_used_at is None
    api(token).get("/api/v1/search/?q=x")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_search_by_token_returns_ranked_hits(token):
    data = api(token).get("/api/v1/search/?q=customers").json()
    assert data["total"] >= 3 and data["results"][0]["name"] == "customers"
    assert data["results"][0]["url"] == f"/api/v1/tables/{data['results'][0]['table_id']}/"


def test_session_login_works_too(client, jaffle_catalog):
    client.force_login(analyst_user())
    assert client.get("/api/v1/search/?q=orders").status_code == 200


def test_a_table_by_id_and_by_path_with_its_columns_tests_and_lineage(token):
    customers = Table.objects.get(name="customers")
    by_id = api(token).get(f"/api/v1/tables/{customers.pk}/").json()
    path = by_id["path"]
    assert (
        path.endswith(".analytics.customers")
        and by_id["dbt"][0]["unique_id"] == "model.jaffle_shop.customers"
    )
    assert api(token).get(f"/api/v1/tables/?path={path}").json()["id"] == customers.pk
    columns = api(token).get(f"/api/v1/tables/{customers.pk}/columns/").json()["columns"]
    assert [c["name"] for c in columns][:2] == ["customer_id", "first_name"]
    snapshot = Table.objects.get(name="raw_orders_snapshot")
    tests = api(token).get(f"/api/v1/tables/{snapshot.pk}/tests/").json()["tests"]
    assert {t["name"]: t["status"] for t in tests}[
        "not_null_raw_orders_snapshot_dbt_valid_to"
    ] == "fail"
    lineage = api(token).get(f"/api/v1/tables/{customers.pk}/lineage/?depth=1").json()
    labels = {n["label"] for n in lineage["nodes"]}
    assert {"stg_customers", "Customer revenue dashboard"} <= labels and lineage["edges"]


@pytest.mark.parametrize(
    "url, message",
    [
        ("/api/v1/search/?per_page=500", "'per_page' must be between 1 and 100."),
        ("/api/v1/search/?page=abc", "'page' must be a whole number"),
        ("/api/v1/search/?integration=x", "integration"),
        ("/api/v1/tables/?path=customers", "'path' must be database.schema.table"),
        ("/api/v1/tables/1/lineage/?depth=9", "'depth' must be between 0 and 5."),
    ],
)
def test_bad_input_gets_a_400_with_a_clear_message(token, url, message):
    response = api(token).get(url)
    assert response.status_code == 400 and message in response.json()["error"]


def test_unknown_tables_are_404(token):
    assert api(token).get("/api/v1/tables/999999/").status_code == 404
    assert api(token).get("/api/v1/tables/?path=a.b.c").status_code == 404


def test_the_api_is_read_only(token):
    response = api(token).post("/api/v1/search/", {"q": "x"})
    assert response.status_code == 405


def test_the_openapi_document_describes_every_route(token):
    doc = api(token).get("/api/v1/schema/").json()
    assert doc["openapi"].startswith("3.0")
    assert set(doc["paths"]) == {
        "/search/",
        "/tables/",
        "/tables/{pk}/",
        "/tables/{pk}/columns/",
        "/tables/{pk}/tests/",
        "/tables/{pk}/lineage/",
        "/schema/",
    }


def test_tokens_are_created_once_shown_and_revoked_from_the_page(client, jaffle_catalog):
    client.force_login(analyst_user())
    page = client.post("/account/tokens/", {"name": "bot"}).content.decode()
    raw = page.split("<p><code>")[1].split("</code>")[0]
    assert api(raw).get("/api/v1/search/?q=x").status_code == 200
    listing = client.get("/account/tokens/").content.decode()
    assert raw not in listing and ApiToken.objects.get().prefix in listing
    client.post(f"/account/tokens/{ApiToken.objects.get().pk}/revoke/")
    assert api(raw).get("/api/v1/search/?q=x").status_code == 401


def api_urls() -> list[str]:
    """Every route of the API, read from its URL patterns."""
    from catalog.api.urls import urlpatterns

    pk = Table.objects.values_list("pk", flat=True).first()
    return [
        reverse(f"api:{p.name}", kwargs={"pk": pk} if "pk" in p.pattern.converters else {})
        for p in urlpatterns
    ]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_write_methods_get_a_json_405_naming_get_from_every_endpoint_whoever_calls(token, method):
    session = Client(enforce_csrf_checks=True)  # as a browser's session is: CSRF enforced
    session.force_login(ApiToken.objects.get().user)
    callers = {
        "anonymous": Client(enforce_csrf_checks=True),
        "token": Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token}"),
        "session": session,
    }
    answers = {
        (who, url): getattr(caller, method)(url, data="{}", content_type="application/json")
        for who, caller in callers.items()
        for url in api_urls()
    }
    assert len(answers) == 3 * 7
    for response in answers.values():
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response.json() == {"error": "The read API only answers GET."}
