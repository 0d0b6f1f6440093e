"""A real jaffle_shop catalog: the warehouse synced from Postgres, then enriched by dbt."""

from __future__ import annotations

from types import SimpleNamespace

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


# -- several jobs, each fact from its own run (built with the ORM, as the dbt apply leaves it) --


def at(hour: int, minute: int = 0, day: int = 27):
    from datetime import UTC, datetime

    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


NIGHTLY, HOURLY, BACKFILL, RETIRED = 7000, 7001, 7003, 7009
NIGHTLY_RUN, HOURLY_RUN, BACKFILL_RUN, RETIRED_RUN = 101, 201, 301, 901
ORDERS = "model.shop.orders.v2"
RAW_ORDERS = "source.shop.raw.raw_orders"
FLIPPED = "test.shop.not_null_orders_status.1a2b3c"
NEVER_RUN = "test.shop.unique_orders_order_id.4d5e6f"
FAILED_MESSAGE = "Got 99 results, configured to fail if != 0"


def build_multi_job_catalog() -> SimpleNamespace:
    """A warehouse with `orders` and `raw_orders`, and a dbt Cloud account with:
    a nightly `dbt build` job (run 101, 02:40) that built orders, checked raw_orders'
    freshness (warn) and failed not_null_orders_status with 99 rows; an hourly `dbt test`
    job (run 201, 03:10, the newest manifest) that passed that test and built nothing; an
    API-triggered backfill job that built orders the day before; a job no longer read
    (removed) whose stale build fact must never show; unique_orders_order_id, never run."""
    from catalog.models import (
        Column,
        Database,
        DbtJob,
        DbtJobFact,
        DbtNode,
        DbtRun,
        DbtTest,
        DbtTestResult,
        Schema,
        Table,
    )

    warehouse = Integration.objects.create(connector="postgres", name="warehouse", config={})
    dbt = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )
    database = Database.objects.create(integration=warehouse, name="warehouse")
    analytics = Schema.objects.create(integration=warehouse, database=database, name="analytics")
    raw = Schema.objects.create(integration=warehouse, database=database, name="raw")
    orders = Table.objects.create(integration=warehouse, schema=analytics, name="orders")
    raw_orders = Table.objects.create(integration=warehouse, schema=raw, name="raw_orders")
    for ordinal, name in enumerate(("order_id", "status"), start=1):
        Column.objects.create(
            integration=warehouse, table=orders, name=name, ordinal=ordinal, data_type="text"
        )
    Column.objects.create(integration=warehouse, table=raw_orders, name="id", ordinal=1)

    base = "https://ab123.us1.dbt.com/deploy/1/projects/70"

    def job(dbt_id, name, **fields):
        return DbtJob.objects.create(
            integration=dbt, dbt_id=dbt_id, name=name, url=f"{base}/jobs/{dbt_id}/", **fields
        )

    def run(dbt_id, of, finished_at):
        return DbtRun.objects.create(
            integration=dbt,
            job=of,
            dbt_id=dbt_id,
            status_code=10,
            status="success",
            finished_at=finished_at,
            url=f"{base}/runs/{dbt_id}/",
            ingested_at=finished_at,
        )

    nightly = job(NIGHTLY, "Nightly build", schedule_cron="0 2 * * *", triggers=["schedule"])
    hourly = job(HOURLY, "Hourly tests", schedule_cron="0 * * * *", triggers=["schedule"])
    backfill = job(BACKFILL, "Orchestrated backfill", state=DbtJob.State.TRIGGERED)
    retired = job(RETIRED, "Retired nightly", removed=True)
    nightly_run = run(NIGHTLY_RUN, nightly, at(2, 40))
    hourly_run = run(HOURLY_RUN, hourly, at(3, 10))
    backfill_run = run(BACKFILL_RUN, backfill, at(23, 0, day=26))
    retired_run = run(RETIRED_RUN, retired, at(4, 0))

    definition = {"job": hourly, "run": hourly_run, "fact_finished_at": at(3, 10)}
    model = DbtNode.objects.create(
        integration=dbt,
        unique_id=ORDERS,
        resource_type="model",
        name="orders",
        version="2",
        latest_version="2",
        database="warehouse",
        schema="analytics",
        identifier="orders",
        materialized="table",
        description="One row per order",
        raw_code="select * from {{ ref('stg_orders') }}",
        compiled_code='select * from "warehouse"."analytics"."stg_orders"',
        table=orders,
        match_status="matched",
        match_rule="relation_name",
        execution_status="success",
        executed_at=at(2, 35),
        execution_time=12.5,
        execution_message="SELECT 99",
        adapter_response={"_message": "SELECT 99", "code": "SELECT", "rows_affected": 99},
        execution_job=nightly,
        execution_run=nightly_run,
        execution_finished_at=at(2, 40),
        compiled_job=nightly,
        compiled_run=nightly_run,
        compiled_finished_at=at(2, 40),
        catalog_job=nightly,
        catalog_run=nightly_run,
        catalog_finished_at=at(2, 40),
        **definition,
    )
    source = DbtNode.objects.create(
        integration=dbt,
        unique_id=RAW_ORDERS,
        resource_type="source",
        name="raw_orders",
        source_name="raw",
        table=raw_orders,
        match_status="matched",
        freshness_status="warn",
        freshness_max_loaded_at=at(1, 0),
        freshness_snapshotted_at=at(2, 30),
        freshness_age_seconds=5400.0,
        freshness_criteria={"warn_after": {"count": 1, "period": "hour"}},
        freshness_job=nightly,
        freshness_run=nightly_run,
        freshness_finished_at=at(2, 40),
        **definition,
    )
    flipped = DbtTest.objects.create(
        integration=dbt,
        unique_id=FLIPPED,
        name="not_null_orders_status",
        test_type="generic",
        test_name="not_null",
        attached_node=ORDERS,
        node=model,
        table=orders,
        column_name="status",
        severity="error",
        status="pass",
        failures=0,
        executed_at=at(3, 5),
        result_job=hourly,
        result_run=hourly_run,
        result_finished_at=at(3, 10),
        **definition,
    )
    never_run = DbtTest.objects.create(
        integration=dbt,
        unique_id=NEVER_RUN,
        name="unique_orders_order_id",
        test_type="generic",
        test_name="unique",
        attached_node=ORDERS,
        node=model,
        table=orders,
        column_name="order_id",
        severity="error",
        **definition,
    )
    # Created newest first, so that only the executed_at order can put them right.
    DbtTestResult.objects.create(
        test=flipped, job=hourly, run=hourly_run, status="pass", failures=0, executed_at=at(3, 5)
    )
    DbtTestResult.objects.create(
        test=flipped,
        job=nightly,
        run=nightly_run,
        status="fail",
        failures=99,
        message=FAILED_MESSAGE,
        executed_at=at(2, 38),
    )

    def fact(of, of_run, unique_id, kind, executed_at=None):
        DbtJobFact.objects.create(
            integration=dbt,
            job=of,
            run=of_run,
            unique_id=unique_id,
            kind=kind,
            finished_at=of_run.finished_at,
            executed_at=executed_at,
        )

    Kind = DbtJobFact.Kind
    fact(nightly, nightly_run, ORDERS, Kind.EXECUTION, at(2, 35))
    fact(nightly, nightly_run, ORDERS, Kind.COMPILED)
    fact(nightly, nightly_run, RAW_ORDERS, Kind.FRESHNESS)
    fact(nightly, nightly_run, FLIPPED, Kind.TEST, at(2, 38))
    fact(backfill, backfill_run, ORDERS, Kind.EXECUTION, at(22, 50, day=26))
    fact(hourly, hourly_run, FLIPPED, Kind.TEST, at(3, 5))
    # A test's result filed as an execution must still not make the test job a builder.
    fact(hourly, hourly_run, FLIPPED, Kind.EXECUTION, at(3, 5))
    fact(retired, retired_run, ORDERS, Kind.EXECUTION, at(3, 55))
    return SimpleNamespace(
        warehouse=warehouse,
        dbt=dbt,
        orders=orders,
        raw_orders=raw_orders,
        nightly=nightly,
        hourly=hourly,
        backfill=backfill,
        retired=retired,
        model=model,
        source=source,
        flipped=flipped,
        never_run=never_run,
    )


@pytest.fixture
def multi_job_catalog(db) -> SimpleNamespace:
    return build_multi_job_catalog()
