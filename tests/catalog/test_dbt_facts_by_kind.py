"""dbt facts by kind, each from the run that produced it: a nightly build job (freshness,
docs) and a newer test-only job that ran a subset, read in one sync and across syncs, on
the real jaffle_shop artifacts over the real jaffle_shop warehouse (derived in memory)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Column, DbtJob, DbtJobFact, DbtNode, DbtTest, DescriptionSource, Table
from catalog.services import dbt_apply
from integrations.connectors.dbt_artifacts import parse_run_facts
from integrations.connectors.dbt_records import Provenance
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.support.dbt_fixtures import PROJECT_ID, artifact, artifacts, finished, job, run

pytestmark = pytest.mark.django_db

NIGHTLY, HOURLY = 4021, 4022
FAILING = "test.jaffle_shop.not_null_raw_orders_snapshot_dbt_valid_to.ec565168da"
ON_ORDERS = "model.jaffle_shop.orders"


@pytest.fixture
def dbt(warehouse_config) -> Integration:
    warehouse = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=warehouse)).value == "succeeded"
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )


def apply(dbt, records):
    return dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=records,
    )


def checks_on(uid: str, manifest: dict) -> set[str]:
    return {
        t
        for t, n in manifest["nodes"].items()
        if n["resource_type"] == "test" and uid in n["depends_on"]["nodes"]
    }


def subset_run(selected: set[str], *, flip_failing: bool = True) -> tuple[dict, dict]:
    """`dbt test --select …`: the whole project's manifest, compiled code only for what it
    ran; run_results with just those tests (the failing one now passing)."""
    manifest = artifact("manifest.json")
    for uid, n in manifest["nodes"].items():
        if uid not in selected:
            n.pop("compiled_code", None)
            n["compiled"] = False
    results = artifact("run_results.json")
    results["results"] = [r for r in results["results"] if r["unique_id"] in selected]
    for r in results["results"]:
        if flip_failing and r["unique_id"] == FAILING:
            r.update(status="pass", failures=0, message=None)
    return manifest, results


@pytest.fixture(params=["with its manifest", "facts only"])
def read_as(request) -> str:
    """The nightly run read whole, or, as the walk reads a run that a newer one of the same
    project follows, without its manifest: the facts must come out the same."""
    return request.param


def nightly(run_id: int = 9001, hour: int = 5, read_as: str = "with its manifest") -> list:
    if read_as == "facts only":
        parsed = parse_run_facts(
            run_results=artifact("run_results.json"),
            sources=artifact("sources.json"),
            catalog=artifact("catalog.json"),
            provenance=Provenance(job_id=NIGHTLY, run_id=run_id, finished_at=finished(hour)),
            project_id=PROJECT_ID,
        )
        return [run(run_id, NIGHTLY, hour), parsed]
    return [run(run_id, NIGHTLY, hour), artifacts(run_id, NIGHTLY, hour)]


def hourly(run_id: int = 9100, hour: int = 7, selected: set[str] | None = None) -> list:
    manifest = artifact("manifest.json")
    chosen = selected if selected is not None else {*checks_on(ON_ORDERS, manifest), FAILING}
    manifest, results = subset_run(chosen)
    return [
        run(run_id, HOURLY, hour),
        artifacts(
            run_id, HOURLY, hour, manifest=manifest, run_results=results, sources={}, catalog={}
        ),
    ]


def both_jobs() -> list:
    return [job(NIGHTLY, "Nightly build"), job(HOURLY, "Hourly tests")]


def test_a_newer_test_only_run_leaves_the_nightly_builds_freshness_and_results(dbt, read_as):
    apply(dbt, [*both_jobs(), *nightly(read_as=read_as), *hourly()])

    sources = DbtNode.objects.filter(resource_type="source")
    assert sources.exclude(freshness_status="").count() == sources.count() > 0
    for source in sources.select_related("freshness_job", "freshness_run"):
        assert (source.freshness_job.dbt_id, source.freshness_run.dbt_id) == (NIGHTLY, 9001)
    built = DbtNode.objects.filter(resource_type__in=["model", "seed", "snapshot"])
    assert built.count() > 0
    for node in built.select_related("execution_job", "execution_run"):
        assert node.execution_status in ("success", "error"), node.unique_id
        assert (node.execution_job.dbt_id, node.execution_run.dbt_id) == (NIGHTLY, 9001)
        assert node.executed_at is not None
    # The table page's "Jobs that build it": the nightly job only.
    for table in Table.objects.filter(dbt_nodes__resource_type="model"):
        assert [j.dbt_id for j in table.dbt_jobs.all()] == [NIGHTLY]


def test_the_test_job_supplies_only_the_results_of_the_tests_it_ran(dbt, read_as):
    apply(dbt, [*both_jobs(), *nightly(read_as=read_as), *hourly()])

    ran = {*checks_on(ON_ORDERS, artifact("manifest.json")), FAILING}
    tests = DbtTest.objects.filter(test_type__in=["generic", "singular"])
    for test in tests.select_related("result_job", "result_run"):
        expected = (HOURLY, 9100) if test.unique_id in ran else (NIGHTLY, 9001)
        assert test.status, test.unique_id  # every test ran somewhere: none "not run"
        assert (test.result_job.dbt_id, test.result_run.dbt_id) == expected, test.unique_id
    failing = DbtTest.objects.get(unique_id=FAILING)
    assert (failing.status, failing.failures) == ("pass", 0)
    rows = failing.history.order_by("run__finished_at")
    assert [(h.job.dbt_id, h.run.dbt_id, h.status, h.failures) for h in rows] == [
        (NIGHTLY, 9001, "fail", 99),
        (HOURLY, 9100, "pass", 0),
    ]
    # Warnings of the nightly run stay warnings: the hourly run did not run them.
    nightly_results = {r["unique_id"]: r["status"] for r in artifact("run_results.json")["results"]}
    for test in tests.exclude(unique_id__in=ran):
        assert test.status == nightly_results[test.unique_id]


def test_a_test_no_run_executed_says_never_run(dbt):
    results = artifact("run_results.json")
    results["results"] = [r for r in results["results"] if r["unique_id"] != FAILING]
    apply(dbt, [job(NIGHTLY), run(9001, NIGHTLY), artifacts(9001, NIGHTLY, run_results=results)])
    test = DbtTest.objects.get(unique_id=FAILING)
    assert (test.status, test.result_run, test.history.count()) == ("", None, 0)


def test_compiled_code_comes_from_the_run_that_compiled_it(dbt, read_as):
    apply(dbt, [*both_jobs(), *nightly(read_as=read_as), *hourly()])
    orders = DbtNode.objects.select_related("compiled_run").get(unique_id=ON_ORDERS)
    assert orders.compiled_code and orders.compiled_run.dbt_id == 9001
    # The test job compiled its tests, not the model: the model's code stays the nightly's.
    failing = DbtTest.objects.get(unique_id=FAILING)
    assert failing.compiled_code
    # A test the hourly job did not select keeps the code the nightly build compiled.
    ran = {*checks_on(ON_ORDERS, artifact("manifest.json")), FAILING}
    manifest = artifact("manifest.json")
    for test in DbtTest.objects.filter(test_type="generic").exclude(unique_id__in=ran):
        assert test.compiled_code == manifest["nodes"][test.unique_id]["compiled_code"]


def test_a_newer_nightly_run_takes_over_what_it_carries(dbt):
    apply(dbt, [*both_jobs(), *nightly(), *hourly()])
    results = artifact("run_results.json")  # the failing test fails again at 09:00
    apply(
        dbt,
        [*both_jobs(), run(9002, NIGHTLY, 9), artifacts(9002, NIGHTLY, 9, run_results=results)],
    )
    failing = DbtTest.objects.select_related("result_run").get(unique_id=FAILING)
    assert (failing.status, failing.result_run.dbt_id) == ("fail", 9002)
    assert [h.run.dbt_id for h in failing.history.order_by("run__finished_at")] == [
        9001,
        9100,
        9002,
    ]
    orders = DbtNode.objects.select_related("execution_run").get(unique_id=ON_ORDERS)
    assert orders.execution_run.dbt_id == 9002


def test_a_second_sync_with_no_new_run_writes_nothing(dbt):
    apply(dbt, [*both_jobs(), *nightly(), *hourly()])
    with CaptureQueriesContext(connection) as queries:
        apply(dbt, [*both_jobs(), run(9001, NIGHTLY), run(9100, HOURLY, 7)])
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "integrations_syncrun" not in q["sql"]
    ]
    assert writes == []


def test_narrowing_to_the_test_job_drops_what_only_the_nightly_job_said(dbt, read_as):
    apply(dbt, [*both_jobs(), *nightly(read_as=read_as), *hourly()])
    failing = DbtTest.objects.get(unique_id=FAILING)
    history_before = failing.history.count()

    apply(dbt, [job(HOURLY, "Hourly tests")])  # job_ids narrowed: the nightly job is not read

    assert DbtJob.objects.get(dbt_id=NIGHTLY).removed
    assert not DbtJobFact.objects.filter(job__dbt_id=NIGHTLY).exists()
    assert not DbtNode.objects.exclude(freshness_status="").exists()
    assert not DbtNode.objects.exclude(execution_status="").exists()
    for table in Table.objects.all():
        assert not table.dbt_jobs.exists()
    ran = {*checks_on(ON_ORDERS, artifact("manifest.json")), FAILING}
    assert set(DbtTest.objects.exclude(status="").values_list("unique_id", flat=True)) == ran
    assert failing.history.count() == history_before  # what happened stays history


def test_a_node_gone_from_the_project_gives_its_table_back_to_the_warehouse(dbt):
    apply(dbt, [job(NIGHTLY), *nightly()])
    customers = Table.objects.get(name="customers", dbt_nodes__unique_id__endswith="customers")
    assert customers.description_source == DescriptionSource.DBT
    Table.objects.filter(pk=customers.pk).update(warehouse_description="Warehouse comment")
    column = Column.objects.get(table=customers, name="customer_id")
    assert column.description_source == DescriptionSource.DBT

    manifest = artifact("manifest.json")
    del manifest["nodes"]["model.jaffle_shop.customers"]
    apply(
        dbt, [job(NIGHTLY), run(9002, NIGHTLY, 6), artifacts(9002, NIGHTLY, 6, manifest=manifest)]
    )

    customers.refresh_from_db()
    column.refresh_from_db()
    assert (customers.description, customers.description_source) == (
        "Warehouse comment",
        DescriptionSource.WAREHOUSE,
    )
    assert customers.owners_source != DescriptionSource.DBT
    assert (column.description, column.description_source) == ("", DescriptionSource.NONE)
    node = DbtNode.objects.get(unique_id="model.jaffle_shop.customers")
    assert node.removed and node.table_id is None


def test_a_column_no_longer_documented_loses_dbts_description_but_keeps_a_persons(dbt):
    apply(dbt, [job(NIGHTLY), *nightly()])
    orders = Table.objects.get(name="orders", dbt_nodes__unique_id=ON_ORDERS)
    edited = Column.objects.get(table=orders, name="order_id")
    Column.objects.filter(pk=edited.pk).update(
        description="Written by a person", description_source=DescriptionSource.USER
    )
    manifest = artifact("manifest.json")
    columns = manifest["nodes"][ON_ORDERS]["columns"]
    dropped = next(name for name in columns if name != "order_id")
    del columns[dropped], columns["order_id"]

    apply(
        dbt, [job(NIGHTLY), run(9002, NIGHTLY, 6), artifacts(9002, NIGHTLY, 6, manifest=manifest)]
    )

    lost = Column.objects.get(table=orders, name=dropped)
    assert lost.description_source != DescriptionSource.DBT
    edited.refresh_from_db()
    assert (edited.description, edited.description_source) == (
        "Written by a person",
        DescriptionSource.USER,
    )


def test_a_job_read_again_after_a_pause_has_its_newest_run_read_whole_again(dbt):
    from integrations.connectors.dbt_records import SyncState

    apply(
        dbt,
        [
            *both_jobs(),
            *nightly(),
            *hourly(),
            SyncState({"ingested_runs": {str(NIGHTLY): 9001, str(HOURLY): 9100}}),
        ],
    )
    apply(dbt, [job(HOURLY), SyncState({"ingested_runs": {str(NIGHTLY): 9001, str(HOURLY): 9100}})])
    dbt.refresh_from_db()
    # The nightly job's facts went with it: the walk must not skip its run 9001 next time.
    assert dbt.sync_state["ingested_runs"] == {str(HOURLY): 9100}


def test_an_enforced_constraint_is_checked_by_the_run_that_built_its_model(dbt, read_as):
    uid = "constraint.model.jaffle_shop.dim_dates.date_day.not_null"
    apply(dbt, [*both_jobs(), *nightly(read_as=read_as), *hourly()])
    check = DbtTest.objects.select_related("result_run").get(unique_id=uid)
    # The nightly build built dim_dates; the newer test-only run did not, and says nothing.
    assert (check.status, check.result_run.dbt_id) == ("pass", 9001)
    # Its words are the nightly build's, not those of the newest manifest's run, which did
    # not build dim_dates.
    held = "not_null constraint on dim_dates.date_day. Enforced by the warehouse: it held"
    assert check.message.startswith(held), check.message
    assert [h.message for h in check.history.all()] == [check.message]


def test_an_older_manifest_read_later_keeps_the_newer_definition_but_gives_its_facts(dbt):
    # The hourly test job's manifest is the newest; it has no catalog.json.
    newer = artifact("manifest.json")
    newer["nodes"][ON_ORDERS]["description"] = "As the newer manifest says."
    manifest, results = subset_run({*checks_on(ON_ORDERS, newer), FAILING})
    manifest["nodes"][ON_ORDERS]["description"] = "As the newer manifest says."
    apply(
        dbt,
        [
            job(HOURLY, "Hourly tests"),
            run(9100, HOURLY, 7),
            artifacts(9100, HOURLY, 7, manifest=manifest, run_results=results, catalog={}),
        ],
    )
    # A docs job added later brings an older run, read whole: the only catalog.json.
    apply(dbt, [job(HOURLY, "Hourly tests"), job(NIGHTLY, "Docs"), *nightly(hour=5)])
    orders = DbtNode.objects.select_related("run", "catalog_run").get(unique_id=ON_ORDERS)
    assert orders.description == "As the newer manifest says." and orders.run.dbt_id == 9100
    assert orders.catalog_columns and orders.catalog_run.dbt_id == 9001


def test_a_first_sync_writes_each_new_test_once_with_its_node_and_table(dbt):
    with CaptureQueriesContext(connection) as queries:
        apply(dbt, [*both_jobs(), *nightly(), *hourly()])
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert not [sql for sql in updates if sql.startswith('UPDATE "catalog_dbttest"')]
    failing = DbtTest.objects.select_related("node", "table").get(unique_id=FAILING)
    assert failing.node.unique_id == "snapshot.jaffle_shop.raw_orders_snapshot"
    assert failing.table == failing.node.table and failing.table is not None
    assert failing.compiled_code and failing.status == "pass"  # the hourly run's
