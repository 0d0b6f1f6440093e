"""A warehouse sync takes at most SYNC_MAX_OBJECTS databases, schemas, tables and columns: past
it the sync fails with the reason and the catalog keeps its last good state. On the real
jaffle_shop warehouse."""

from __future__ import annotations

import pytest

from catalog.models import Column, Table
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute

pytestmark = pytest.mark.django_db


def test_a_warehouse_past_the_object_limit_fails_and_keeps_the_last_good_catalog(
    warehouse_config, settings
):
    integration = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=integration)).value == "succeeded"
    tables, columns = Table.objects.count(), Column.objects.count()
    assert columns > 20

    settings.SYNC_MAX_OBJECTS = 20
    run = SyncRun.objects.create(integration=integration)
    assert sync_execute(run=run).value == "failed"
    run.refresh_from_db()
    assert "more than 20 databases, schemas, tables and columns (SYNC_MAX_OBJECTS)" in run.error
    assert "the catalog keeps what it had" in run.error
    assert (Table.objects.count(), Column.objects.count()) == (tables, columns)
    assert not Table.objects.filter(removed=True).exists()
