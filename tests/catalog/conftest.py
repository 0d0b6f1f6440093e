"""A real jaffle_shop catalog: the warehouse synced from Postgres, then enriched by dbt."""

from __future__ import annotations

import pytest

from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.support.dbt_fixtures import one_run


def build_jaffle_catalog(warehouse_config: dict) -> tuple[Integration, Integration]:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    dbt = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(),
    )
    return warehouse, dbt


@pytest.fixture
def jaffle_catalog(db, warehouse_config):
    return build_jaffle_catalog(warehouse_config)
