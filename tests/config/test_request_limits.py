"""A request body past UPLOAD_MAX_BYTES is refused before any view reads it, and nothing is
changed: here a 3 MB description posted to a table's edit form."""

from __future__ import annotations

import pytest

from catalog.models import Database, Schema, Table
from tests.factories import admin_user, postgres_integration

pytestmark = pytest.mark.django_db


def test_a_body_past_the_limit_is_a_400_and_changes_nothing(client, settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440  # UPLOAD_MAX_BYTES' default
    integration = postgres_integration({"host": "127.0.0.1", "password": "x"})
    database = Database.objects.create(integration=integration, name="shop")
    schema = Schema.objects.create(integration=integration, database=database, name="public")
    table = Table.objects.create(integration=integration, schema=schema, name="orders")
    client.force_login(admin_user())
    response = client.post(
        f"/catalog/tables/{table.pk}/edit/", {"description": "x" * 3_000_000, "tags": ""}
    )
    assert response.status_code == 400
    table.refresh_from_db()
    assert table.description == ""
    # Within the limit the same form works.
    ok = client.post(f"/catalog/tables/{table.pk}/edit/", {"description": "Orders.", "tags": ""})
    assert ok.status_code == 302
