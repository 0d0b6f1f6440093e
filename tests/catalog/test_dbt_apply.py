"""dbt_apply on the real jaffle_shop artifacts over the real jaffle_shop warehouse catalog."""

from __future__ import annotations

import gc
import weakref

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from catalog.models import (
    Column,
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    DescriptionSource,
    Table,
    TableLineage,
)
from catalog.services import dbt_apply
from catalog.services.dbt import apply as dbt_service
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from integrations.services.sync import handed_over
from tests.support.dbt_fixtures import (
    artifact,
    artifacts,
    job,
    one_run,
    outcomes,
    run,
    tuva_manifest,
)

pytestmark = pytest.mark.django_db

MANIFEST = artifact("manifest.json")
FAILING = "test.jaffle_shop.not_null_raw_orders_snapshot_dbt_valid_to.ec565168da"
RELATIONS = [
    uid
    for uid, n in MANIFEST["nodes"].items()
    if n["resource_type"] in ("model", "seed", "snapshot")
]


@pytest.fixture
def warehouse(warehouse_config) -> Integration:
    integration = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=integration)).value == "succeeded"
    return integration


@pytest.fixture
def dbt(warehouse) -> Integration:
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )


def apply(dbt, records):
    dbt.refresh_from_db()
    return dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=records,
    )


def node(uid: str) -> DbtNode:
    return DbtNode.objects.select_related("table__schema").get(unique_id=uid)


def test_every_model_seed_and_snapshot_and_source_matches_its_warehouse_table(dbt):
    counts = apply(dbt, one_run())

    assert len(RELATIONS) == 10
    for uid in RELATIONS:
        n = node(uid)
        assert n.match_status == "matched", (uid, n.match_reason)
        assert (n.table.schema.name, n.table.name) == (
            MANIFEST["nodes"][uid]["schema"],
            MANIFEST["nodes"][uid]["alias"],
        )
        assert n.match_rule.startswith("relation_name")
    for uid, source in MANIFEST["sources"].items():
        assert node(uid).table.name == source["identifier"]
    # The seed and the source over one table both enrich it, without fighting.
    assert (
        node("seed.jaffle_shop.raw_orders").table_id
        == node("source.jaffle_shop.jaffle_raw.raw_orders").table_id
    )
    assert counts["match_report"] == {"matched": 13}


def test_descriptions_of_models_and_columns_come_from_dbt(dbt):
    apply(dbt, one_run())
    for name in ("customers", "orders"):
        uid = f"model.jaffle_shop.{name}"
        table = Table.objects.get(name=name)
        assert table.description == MANIFEST["nodes"][uid]["description"]
        assert table.description_source == DescriptionSource.DBT
        for column_name, declared in MANIFEST["nodes"][uid]["columns"].items():
            if not declared["description"] or column_name == "total_order_amount":
                continue
            column = Column.objects.get(table=table, name=column_name)
            assert (column.description, column.description_source) == (
                declared["description"],
                "dbt",
            )


def test_warehouse_comments_are_kept_unless_the_policy_says_dbt_wins(dbt):
    table = Table.objects.get(name="raw_customers")
    Table.objects.filter(pk=table.pk).update(
        description="Comment typed by a DBA", description_source="warehouse"
    )
    apply(dbt, one_run())
    assert Table.objects.get(pk=table.pk).description == "Comment typed by a DBA"

    dbt.config = {**dbt.config, "description_policy": "dbt_wins"}
    dbt.save()
    apply(dbt, one_run(9002, hour=6))
    table.refresh_from_db()
    assert table.description == MANIFEST["nodes"]["seed.jaffle_shop.raw_customers"]["description"]
    assert table.description_source == DescriptionSource.DBT


def test_a_users_edit_wins_over_dbt(dbt):
    table = Table.objects.get(name="customers")
    Table.objects.filter(pk=table.pk).update(
        description="Written by an analyst", description_source="user"
    )
    apply(dbt, one_run())
    assert Table.objects.get(pk=table.pk).description == "Written by an analyst"


def test_dim_dates_carries_tags_owner_group_and_contract(dbt):
    apply(dbt, one_run())
    table = Table.objects.get(name="dim_dates")
    assert table.tags == ["calendar", "finance"] and table.tags_source == "dbt"
    assert table.owners == ["finance-analytics@jaffle.example.com"]
    n = node("model.jaffle_shop.dim_dates")
    assert n.contract_enforced and n.access == "public" and n.materialized == "table"
    assert (
        n.group.name == "finance" and n.group.owner_email == "finance-analytics@jaffle.example.com"
    )
    assert [c["name"] for c in n.constraints] == ["dim_dates_iso_day_of_week_range"]
    assert n.compiled_code and n.url.endswith("/details/model.jaffle_shop.dim_dates")
    assert n.job.name == "Prod nightly" and n.run.dbt_id == 9001
    group = DbtGroup.objects.get()
    assert set(group.nodes.values_list("unique_id", flat=True)) >= {"model.jaffle_shop.dim_dates"}


def test_tests_have_status_failures_and_the_table_they_test(dbt):
    apply(dbt, one_run())
    failing = DbtTest.objects.get(name="not_null_raw_orders_snapshot_dbt_valid_to")
    assert (failing.status, failing.failures, failing.table.name, failing.column_name) == (
        "fail",
        99,
        "raw_orders_snapshot",
        "dbt_valid_to",
    )
    assert failing.message == "Got 99 results, configured to fail if != 0"
    assert failing.run.dbt_id == 9001 and failing.job.dbt_id == 4021
    warn = DbtTest.objects.get(name="source_unique_jaffle_raw_raw_payments_order_id")
    assert (warn.status, warn.failures, warn.table.name) == ("warn", 13, "raw_payments")
    data_tests = DbtTest.objects.exclude(test_type="constraint")
    assert data_tests.count() == 33 and data_tests.filter(status="pass").count() == 31
    constraints = DbtTest.objects.filter(test_type="constraint")
    assert constraints.exists() and set(constraints.values_list("table__name", flat=True)) == {
        "dim_dates"
    }
    assert DbtTestResult.objects.count() == DbtTest.objects.exclude(status="").count()


def test_freshness_exposure_terms_and_lineage(dbt):
    apply(dbt, one_run())
    freshness = {n.name: n.freshness_status for n in DbtNode.objects.filter(resource_type="source")}
    assert freshness == {"raw_customers": "pass", "raw_payments": "warn", "raw_orders": "error"}
    exposure = DbtExposure.objects.get()
    assert exposure.name == "customer_revenue_dashboard" and exposure.exposure_type == "dashboard"
    assert set(exposure.tables.values_list("name", flat=True)) == {
        "customers",
        "orders",
        "dim_dates",
    }
    assert (exposure.owner_name, exposure.maturity) == ("Finance Analytics", "high")
    metrics = DbtTerm.objects.filter(kind="metric")
    assert set(metrics.values_list("name", flat=True)) == {
        "order_total",
        "order_count",
        "average_order_value",
    }
    assert all(set(m.tables.values_list("name", flat=True)) == {"orders"} for m in metrics)
    edges = {
        (e.upstream.name, e.downstream.name)
        for e in TableLineage.objects.select_related("upstream", "downstream")
    }
    assert ("stg_customers", "customers") in edges and ("raw_orders", "stg_orders") in edges
    assert ("orders", "dim_dates") in edges
    job_tables = set(DbtJob.objects.get().builds.values_list("name", flat=True))
    assert {"customers", "orders", "dim_dates", "raw_orders_snapshot"} <= job_tables


def test_documented_but_missing_and_undocumented_columns_are_reported(dbt):
    apply(dbt, one_run())
    customers = node("model.jaffle_shop.customers")
    assert customers.missing_columns == ["total_order_amount"]
    assert customers.undocumented_columns == ["customer_lifetime_value"]


def test_handed_over_artifacts_are_let_go_of_before_the_catalog_is_derived(dbt, monkeypatch):
    # Holding every parsed node to the end of the apply made it the sync's memory peak.
    records = one_run()
    parsed = weakref.ref(records[2])
    alive_at_derive = []
    derive = dbt_service.derive

    def watched(*args, **kwargs):
        gc.collect()
        alive_at_derive.append(parsed() is not None)
        return derive(*args, **kwargs)

    monkeypatch.setattr(dbt_service, "derive", watched)
    counts = apply(dbt, handed_over(records))

    assert alive_at_derive == [False]
    assert records == []
    assert counts["match_report"] == {"matched": 13}
    customers = node("model.jaffle_shop.customers")
    assert customers.undocumented_columns == ["customer_lifetime_value"]
    assert Column.objects.get(table=customers.table, name="customer_id").description


def test_a_sync_with_no_new_run_writes_nothing(dbt):
    apply(dbt, one_run())
    with CaptureQueriesContext(connection) as queries:
        apply(dbt, [job(), run(9001)])  # the run is known and was ingested: no artifacts
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert [w for w in writes if "integrations_syncrun" not in w] == []


def test_a_new_run_that_flips_a_test_adds_one_history_row(dbt):
    apply(dbt, one_run())
    test = DbtTest.objects.get(name="not_null_raw_orders_snapshot_dbt_valid_to")
    assert test.history.count() == 1
    results = artifact("run_results.json")
    for r in results["results"]:
        if r["unique_id"] == test.unique_id:
            r.update(status="pass", failures=0, message=None)

    apply(dbt, one_run(9002, hour=6, run_results=results))

    test.refresh_from_db()
    assert (test.status, test.failures, test.result_run.dbt_id) == ("pass", 0, 9002)
    assert list(test.history.order_by("executed_at", "id").values_list("status", flat=True)) == [
        "fail",
        "pass",
    ]
    unchanged = DbtTest.objects.get(name="source_unique_jaffle_raw_raw_payments_order_id")
    assert unchanged.history.count() == 1  # same outcome: no new history row


def with_failing_test(status: str, failures: int) -> dict:
    results = artifact("run_results.json")
    for r in results["results"]:
        if r["unique_id"] == FAILING:
            r.update(status=status, failures=failures, message=None if status == "pass" else "x")
    return results


def test_runs_between_two_syncs_add_each_change_to_the_history_in_order(dbt):
    apply(dbt, one_run())  # run 9001 at 05:00: the test fails
    test = DbtTest.objects.get(unique_id=FAILING)
    records = [
        job(),
        run(8990, hour=3),
        # Before 9001, read only now (a job newly read): it takes its place in the order.
        outcomes(8990, hour=3, run_results=with_failing_test("pass", 0)),
        run(9002, hour=6),
        outcomes(9002, hour=6, run_results=with_failing_test("pass", 0)),
        run(9003, hour=7),
        outcomes(9003, hour=7, run_results=with_failing_test("pass", 0)),  # no change
        run(9005, hour=9),
        artifacts(9005, hour=9, run_results=with_failing_test("pass", 0)),
        run(9004, hour=8),  # handed over out of order: sorted by when the run finished
        outcomes(9004, hour=8),  # fails again
    ]

    counts = apply(dbt, records)

    rows = test.history.order_by("run__finished_at").values_list(
        "run__dbt_id", "status", "failures"
    )
    assert list(rows) == [
        (8990, "pass", 0),
        (9001, "fail", 99),
        (9002, "pass", 0),
        (9004, "fail", 99),
        (9005, "pass", 0),
    ]
    test.refresh_from_db()
    assert (test.status, test.result_run.dbt_id) == ("pass", 9005)
    read = DbtRun.objects.filter(dbt_id__in=[9002, 9003, 9004, 9005], ingested_at__isnull=False)
    assert read.count() == 4
    unchanged = DbtTest.objects.get(name="source_unique_jaffle_raw_raw_payments_order_id")
    # Warning since 8990 (the earliest run read), not since 9001: one row, moved earlier.
    assert list(unchanged.history.values_list("run__dbt_id", "status")) == [(8990, "warn")]
    assert counts["test_result"]["removed"] == counts["test_result"]["created"] - 4


def test_the_newest_fact_wins_across_jobs(dbt):
    newer = artifact("run_results.json")
    for r in newer["results"]:
        if (
            r["unique_id"]
            == "test.jaffle_shop.not_null_raw_orders_snapshot_dbt_valid_to.ec565168da"
        ):
            r.update(status="pass", failures=0)
    # Job B's run finished later than job A's, and both arrive in one sync.
    records = [
        *one_run(9001, job_id=1, hour=5),
        *one_run(9100, job_id=2, hour=7, run_results=newer),
    ]
    apply(dbt, records)
    test = DbtTest.objects.get(name="not_null_raw_orders_snapshot_dbt_valid_to")
    assert (test.status, test.result_job.dbt_id, test.result_run.dbt_id) == ("pass", 2, 9100)
    # An older run arriving later (job 2, still live, has no new run) does not overwrite it.
    apply(dbt, [job(2), *one_run(9002, job_id=1, hour=6)])
    test.refresh_from_db()
    assert (test.status, test.result_run.dbt_id) == ("pass", 9100)
    # Job 2 no longer read (the integration narrowed to job 1): its facts go with it.
    apply(dbt, [job(1)])
    test.refresh_from_db()
    assert (test.status, test.result_run.dbt_id) == ("fail", 9002)


def test_a_deliberately_renamed_table_is_unmatched_with_the_nearest_candidate(dbt):
    Table.objects.filter(name="orders").update(name="orders_v2")
    apply(dbt, one_run())
    n = node("model.jaffle_shop.orders")
    assert n.match_status == "unmatched" and n.table is None
    assert n.match_candidate.endswith("analytics.orders_v2")
    assert "Nearest" in n.match_reason


def test_database_mapping_is_used_and_reported(dbt, warehouse):
    dbt.config = {**dbt.config, "database_map": {"warehouse": warehouse.config["database"]}}
    dbt.save()
    apply(dbt, one_run())
    assert node("model.jaffle_shop.customers").match_rule == "relation_name + database mapping"


def test_tuva_manifest_yields_a_match_report_for_every_model(dbt):
    from integrations.connectors.dbt_artifacts import parse_artifacts
    from integrations.connectors.dbt_records import Provenance
    from tests.support.dbt_fixtures import finished

    parsed = parse_artifacts(
        manifest=tuva_manifest(),
        run_results=None,
        sources=None,
        catalog=None,
        provenance=Provenance(1, 2, finished(5)),
        project_id=1,
    )
    apply(dbt, [job(1), run(2, job_id=1), parsed])
    models = DbtNode.objects.filter(resource_type="model")
    assert models.count() == 737
    assert models.filter(match_status="no_table").count() == 48
    unmatched = models.filter(match_status="unmatched")
    assert unmatched.count() == 689
    assert all("No table" in reason for reason in unmatched.values_list("match_reason", flat=True))
    assert DbtRun.objects.get(dbt_id=2).ingested_at is not None


def test_undocumented_columns_keep_the_warehouses_order_whatever_order_rows_are_read_in(dbt):
    manifest = artifact("manifest.json")
    manifest["nodes"]["model.jaffle_shop.orders"]["columns"] = {}  # every column undocumented
    apply(dbt, one_run(manifest=manifest))
    orders = node("model.jaffle_shop.orders")
    ordered = list(
        Column.objects.filter(table=orders.table).order_by("ordinal").values_list("name", flat=True)
    )
    assert orders.undocumented_columns == ordered
    # Rewriting the first columns moves their rows to the end of the heap on PostgreSQL.
    first = Column.objects.filter(table=orders.table, ordinal__lte=2)
    first.update(data_type=F("data_type"))
    with CaptureQueriesContext(connection) as queries:
        apply(dbt, [job(), run(9001)])
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "integrations_syncrun" not in q["sql"]
    ]
    assert writes == []
