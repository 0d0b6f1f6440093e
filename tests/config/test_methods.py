"""Method hygiene: a page that only reads answers 405 to a write, and a GET writes nothing,
on every route of the catalog, the integrations, the account pages and the API."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.config.test_access import catalog, urls  # noqa: F401 - fixtures: one URL per route
from tests.factories import admin_user

pytestmark = pytest.mark.django_db

# The routes whose view writes (on POST): every other one only reads.
WRITES = {
    "catalog:table-edit",
    "catalog:column-edit",
    "integrations:connect",
    "integrations:edit",
    "integrations:sync",
    "integrations:schedule",
    "integrations:disconnect",
    "account:tokens",
    "account:token-revoke",
}
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


def writes_of(queries) -> list[str]:
    return [
        q["sql"][:120]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(WRITE_VERBS)
    ]


def test_the_writing_routes_named_here_exist(urls):  # noqa: F811
    assert WRITES <= set(urls)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_page_that_only_reads_answers_405_to_a_write_and_changes_nothing(
    client,
    urls,  # noqa: F811
    method,
):
    client.force_login(admin_user())
    wrong, written = {}, {}
    for name, url in urls.items():
        if name in WRITES:
            continue
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url)
        if response.status_code != 405 or "GET" not in response.get("Allow", ""):
            wrong[name] = response.status_code
        if writes_of(queries):
            written[name] = writes_of(queries)
    assert wrong == {}
    assert written == {}


def test_a_get_changes_nothing_on_any_route(client, urls):  # noqa: F811
    client.force_login(admin_user())
    written = {}
    for name, url in urls.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code in (200, 405), (name, response.status_code)
        if writes_of(queries):
            written[name] = writes_of(queries)
    assert written == {}
