"""dbt facts come from the run that produced them (issue 11, Deliver 1), end to end: a real
Celery worker on the real PostgreSQL and Redis syncs the real jaffle_shop warehouse, then
dbt Cloud from the stand-in serving the realistic account of tests/support/dbt_account.py
(a failing nightly `dbt build` with freshness and docs, a newer hourly
`dbt test --select orders`, an API-triggered freshness job, idle and retired jobs).

Every expected value is read from the artifacts the stand-in serves, never from the catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.models import DbtJob, DbtJobFact, DbtNode, DbtRun, DbtTest, DbtTestResult, Table
from catalog.selectors.table_page import table_page
from integrations.models import SyncRun
from integrations.services import integration_create, integration_update
from tests.integrations.test_sync_worker import run_sync
from tests.support import dbt_account as A
from tests.support.dbt_fixtures import artifact
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

MANIFEST = artifact("manifest.json")
BUILT = {u for u, n in MANIFEST["nodes"].items() if n["resource_type"] in A.BUILT}
SOURCES = set(MANIFEST["sources"])
FIXTURE_TESTS = {u for u, n in MANIFEST["nodes"].items() if n["resource_type"] == "test"}
ORDERS_TESTS = set(A.orders_tests())
UNSELECTED = FIXTURE_TESTS - ORDERS_TESTS  # tests the hourly run did not select
SYNC_TIMEOUT = 120


@pytest.fixture
def account(worker, dbt_cloud, warehouse_config):
    """The account on the stand-in, the warehouse and dbt Cloud connected to it, and the
    first sync done: the warehouse's, then the dbt Cloud sync it chains."""
    world = A.JaffleAccount(dbt_cloud).build()
    warehouse = integration_create(
        connector_key="postgres", name="jaffle_shop", config=warehouse_config
    )
    dbt = integration_create(
        connector_key="dbt_cloud",
        name="dbt prod",
        config={
            "account_id": A.ACCOUNT,
            "access_url": dbt_cloud.url,
            "token": dbt_cloud.state.token,
        },
    )
    first = run_sync(warehouse, timeout=SYNC_TIMEOUT)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    chained = wait_until(
        lambda: SyncRun.objects.filter(integration=dbt).first(), timeout=30, what="the chained run"
    )
    wait_until(
        lambda: SyncRun.objects.get(pk=chained.pk).status in ("succeeded", "failed"),
        timeout=SYNC_TIMEOUT,
        what="the chained dbt Cloud sync",
    )
    chained.refresh_from_db()
    assert chained.status == SyncRun.Status.SUCCEEDED, chained.error
    world.warehouse, world.dbt, world.first_sync = warehouse, dbt, chained
    return world


def sync(dbt) -> SyncRun:
    run = run_sync(dbt, timeout=SYNC_TIMEOUT)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


def node(uid: str) -> DbtNode:
    return DbtNode.objects.select_related(
        "job",
        "run",
        "execution_job",
        "execution_run",
        "compiled_run",
        "catalog_run",
        "freshness_job",
        "freshness_run",
        "table",
    ).get(unique_id=uid)


def dbt_test(uid: str) -> DbtTest:
    return DbtTest.objects.select_related("result_job", "result_run", "run").get(unique_id=uid)


def run_id(run: DbtRun | None) -> int | None:
    return run.dbt_id if run else None


def job_id(job: DbtJob | None) -> int | None:
    return job.dbt_id if job else None


def history(uid: str) -> list[tuple]:
    """The test's history in execution order: (status, failures, job, run, executed_at)."""
    rows = DbtTestResult.objects.filter(test__unique_id=uid).select_related("job", "run")
    return [
        (r.status, r.failures, job_id(r.job), run_id(r.run), r.executed_at)
        for r in sorted(
            rows, key=lambda r: (r.executed_at or datetime.min.replace(tzinfo=UTC), r.pk)
        )
    ]


def builders(table: Table) -> list[tuple[str, datetime | None]]:
    """ "Jobs that build it" as the table page lists them: (job name, last build time)."""
    shown = []
    for entry in table_page(pk=table.pk).jobs:
        job = getattr(entry, "job", entry)
        shown.append((job.name, getattr(entry, "built_at", None)))
    return shown


def dbt_valued(warehouse) -> list[str]:
    """The warehouse's tables and columns showing a description, tags or owners from dbt."""
    from catalog.models import Column

    found = []
    for model in (Table, Column):
        rows = model.objects.filter(integration=warehouse)
        for field in ("description_source", "tags_source"):
            found += [str(o) for o in rows.filter(**{field: "dbt"})]
    return found


def compiled_code(uid: str) -> str:
    return MANIFEST["nodes"][uid]["compiled_code"]


# --- The first sync ---------------------------------------------------------------------------


def test_sources_freshness_is_the_nightly_runs_sources_json_with_its_run_and_job(account):
    nightly = account.sources(A.NIGHTLY_RUN)
    shown = {
        uid: (
            n.freshness_status,
            run_id(n.freshness_run),
            job_id(n.freshness_job),
            n.freshness_finished_at,
            n.freshness_max_loaded_at,
        )
        for uid in SOURCES
        for n in [node(uid)]
    }
    expected = {
        uid: (
            nightly[uid]["status"],
            A.NIGHTLY_RUN,
            A.NIGHTLY,
            account.finished_at(A.NIGHTLY_RUN),
            datetime.fromisoformat(nightly[uid]["max_loaded_at"]),
        )
        for uid in SOURCES
    }
    # pass / warn / error, not the hourly run's silence nor the older Airflow run's "pass".
    assert {v[0] for v in expected.values()} == {"pass", "warn", "error"}
    assert shown == expected


def test_the_flipped_tests_history_is_fail_99_nightly_then_pass_hourly(account):
    assert history(A.FLIPPED) == [
        ("fail", 99, A.NIGHTLY, A.NIGHTLY_RUN, account.executed_at(A.NIGHTLY_RUN, A.FLIPPED)),
        ("pass", 0, A.HOURLY, A.HOURLY_RUN, account.executed_at(A.HOURLY_RUN, A.FLIPPED)),
    ]
    flipped = dbt_test(A.FLIPPED)
    assert (flipped.status, flipped.failures, run_id(flipped.result_run)) == (
        "pass",
        0,
        A.HOURLY_RUN,
    )
    assert job_id(flipped.result_job) == A.HOURLY
    assert flipped.result_finished_at == account.finished_at(A.HOURLY_RUN)
    assert flipped.executed_at == account.executed_at(A.HOURLY_RUN, A.FLIPPED)


def test_tests_the_hourly_run_executed_have_its_result_and_one_history_row_per_change(account):
    hourly = account.results(A.HOURLY_RUN)
    for uid in ORDERS_TESTS - {A.FLIPPED}:
        t = dbt_test(uid)
        assert (t.status, run_id(t.result_run), job_id(t.result_job), t.executed_at) == (
            "pass",
            A.HOURLY_RUN,
            A.HOURLY,
            A.execute_completed_at(hourly[uid]),
        ), uid
        # pass (nightly) then pass (hourly) is no change: one row, the nightly's, read first
        # in execution order whatever the order the jobs were listed in.
        assert [(s, j, r) for s, _f, j, r, _at in history(uid)] == [
            ("pass", A.NIGHTLY, A.NIGHTLY_RUN)
        ], uid


def test_tests_the_hourly_job_did_not_select_keep_the_nightly_result(account):
    nightly = account.results(A.NIGHTLY_RUN)
    shown = {
        uid: (t.status, t.failures, run_id(t.result_run), job_id(t.result_job), t.executed_at)
        for uid in UNSELECTED
        for t in [dbt_test(uid)]
    }
    expected = {
        uid: (
            nightly[uid]["status"],
            nightly[uid]["failures"],
            A.NIGHTLY_RUN,
            A.NIGHTLY,
            A.execute_completed_at(nightly[uid]),
        )
        for uid in UNSELECTED
    }
    assert len(UNSELECTED) == 23
    assert shown == expected  # none "not run"
    assert shown[A.SNAPSHOT_FAILING][:2] == ("fail", 99)
    assert shown[A.WARNING][:2] == ("warn", 13)
    assert [h[:4] for h in history(A.SNAPSHOT_FAILING)] == [("fail", 99, A.NIGHTLY, A.NIGHTLY_RUN)]


def test_a_test_no_run_executed_says_never_run(account):
    new = dbt_test(A.NEW_TEST)  # in the hourly run's manifest, not selected by it
    assert not new.removed
    assert (new.status, new.failures, new.result_run, new.result_job, new.executed_at) == (
        "",
        None,
        None,
        None,
        None,
    )
    assert history(A.NEW_TEST) == []


def test_models_seeds_and_snapshots_were_last_built_by_the_nightly_run_only(account):
    nightly = account.results(A.NIGHTLY_RUN)
    for uid in BUILT:
        n, result = node(uid), nightly[uid]
        assert (run_id(n.execution_run), job_id(n.execution_job)) == (A.NIGHTLY_RUN, A.NIGHTLY), uid
        assert n.execution_finished_at == account.finished_at(A.NIGHTLY_RUN), uid
        assert n.execution_status == result["status"], uid
        if uid == A.DIM_DATES:
            continue  # skipped by dbt build after the failed test on orders: no time
        assert n.executed_at == A.execute_completed_at(result), uid
        assert n.execution_time == result["execution_time"], uid
        assert n.execution_message == (result["message"] or ""), uid
        assert n.adapter_response == result["adapter_response"], uid
    assert node(A.DIM_DATES).execution_status == "skipped"
    tables = Table.objects.filter(dbt_nodes__unique_id__in=BUILT).distinct()
    assert tables.count() == 10
    for table in tables:
        uid = table.dbt_nodes.get(unique_id__in=BUILT).unique_id
        shown = builders(table)
        assert [name for name, _at in shown] == ["Nightly build"], (table.name, shown)
        if uid != A.DIM_DATES and shown[0][1] is not None:
            assert shown[0][1] in (
                A.execute_completed_at(nightly[uid]),
                account.finished_at(A.NIGHTLY_RUN),
            ), (table.name, shown)
    # A test-only job is never a builder, not even of what it tested.
    assert not DbtJobFact.objects.filter(
        kind=DbtJobFact.Kind.EXECUTION, job__dbt_id=A.HOURLY
    ).exists()


def test_definition_compiled_code_and_catalog_each_come_from_their_own_run(account):
    for uid in BUILT | SOURCES:
        n = node(uid)
        # Definition: the newest manifest, the hourly run's (the whole project).
        assert (run_id(n.run), job_id(n.job)) == (A.HOURLY_RUN, A.HOURLY), uid
        # Catalog: the nightly docs step's catalog.json.
        assert (run_id(n.catalog_run), n.catalog_finished_at) == (
            A.NIGHTLY_RUN,
            account.finished_at(A.NIGHTLY_RUN),
        ), uid
        assert n.catalog_columns, uid
    for uid in BUILT:
        n = node(uid)
        if uid == A.DIM_DATES or not MANIFEST["nodes"][uid].get("compiled_code"):
            # Seeds are never compiled; dim_dates was skipped by the build step, and the
            # hourly `dbt test` compiled no model: no run read compiled them.
            assert (n.compiled_code, n.compiled_run) == ("", None), uid
            continue
        assert n.compiled_code == compiled_code(uid), uid
        assert (run_id(n.compiled_run), n.compiled_finished_at) == (
            A.NIGHTLY_RUN,
            account.finished_at(A.NIGHTLY_RUN),
        ), uid
    for uid in FIXTURE_TESTS:  # the hourly manifest has none on the 23 it did not compile
        assert dbt_test(uid).compiled_code == compiled_code(uid), uid


# --- Later syncs ------------------------------------------------------------------------------


def snapshot() -> dict:
    return {
        "nodes": list(DbtNode.objects.order_by("pk").values_list("pk", "updated_at")),
        "tests": list(DbtTest.objects.order_by("pk").values_list("pk", "updated_at")),
        "history": list(DbtTestResult.objects.order_by("pk").values_list("pk", "status", "run")),
        "jobs": list(DbtJob.objects.order_by("pk").values_list("pk", "updated_at", "removed")),
        "runs": list(DbtRun.objects.order_by("pk").values_list("pk", "updated_at")),
        "job_facts": list(
            DbtJobFact.objects.order_by("pk").values_list("pk", "run", "kind", "values")
        ),
        "tables": list(Table.objects.order_by("pk").values_list("pk", "updated_at")),
    }


def test_a_second_sync_with_no_new_run_writes_nothing_and_downloads_no_artifact(account, dbt_cloud):
    before, downloads = snapshot(), len(dbt_cloud.requests_to("/artifacts/"))
    again = sync(account.dbt)
    changed = {
        kind: c
        for kind, c in again.counts.items()
        if isinstance(c, dict) and (c.get("created") or c.get("updated") or c.get("removed"))
    }
    assert changed == {}
    assert snapshot() == before
    assert len(dbt_cloud.requests_to("/artifacts/")) == downloads
    assert SyncRun.objects.filter(integration=account.dbt).count() == 2


def test_a_later_nightly_run_newer_than_the_hourly_one_changes_the_facts(account):
    later = account.add_later_nightly()
    sync(account.dbt)
    results, sources = account.results(later), account.sources(later)
    finished = account.finished_at(later)
    for uid in SOURCES:
        n = node(uid)
        assert (n.freshness_status, run_id(n.freshness_run), n.freshness_finished_at) == (
            sources[uid]["status"],
            later,
            finished,
        ), uid
    assert node("source.jaffle_shop.jaffle_raw.raw_payments").freshness_status == "pass"
    for uid in BUILT:
        n = node(uid)
        assert (n.execution_status, run_id(n.execution_run), n.executed_at) == (
            "success",
            later,
            A.execute_completed_at(results[uid]),
        ), uid
        assert (run_id(n.run), job_id(n.job)) == (later, A.NIGHTLY), uid  # newest manifest
    dim_dates = node(A.DIM_DATES)
    assert (dim_dates.compiled_code, run_id(dim_dates.compiled_run)) == (
        compiled_code(A.DIM_DATES),
        later,
    )
    for uid in FIXTURE_TESTS | {A.NEW_TEST}:
        t = dbt_test(uid)
        assert (t.status, run_id(t.result_run), t.executed_at) == (
            results[uid]["status"],
            later,
            A.execute_completed_at(results[uid]),
        ), uid
    at = account.executed_at
    assert [h[:4] for h in history(A.FLIPPED)] == [  # pass then pass: no new row
        ("fail", 99, A.NIGHTLY, A.NIGHTLY_RUN),
        ("pass", 0, A.HOURLY, A.HOURLY_RUN),
    ]
    assert history(A.SNAPSHOT_FAILING) == [
        ("fail", 99, A.NIGHTLY, A.NIGHTLY_RUN, at(A.NIGHTLY_RUN, A.SNAPSHOT_FAILING)),
        ("pass", 0, A.NIGHTLY, later, at(later, A.SNAPSHOT_FAILING)),
    ]
    assert [h[:4] for h in history(A.WARNING)] == [
        ("warn", 13, A.NIGHTLY, A.NIGHTLY_RUN),
        ("pass", 0, A.NIGHTLY, later),
    ]
    assert [h[:4] for h in history(A.NEW_TEST)] == [("pass", 0, A.NIGHTLY, later)]


def test_narrowing_to_the_hourly_job_removes_the_facts_only_the_other_jobs_supplied(account):
    rows_before = DbtTestResult.objects.count()
    integration_update(
        integration=account.dbt,
        config={**account.dbt.config, "job_ids": [str(A.HOURLY)]},
        test_connection=False,
    )
    sync(account.dbt)

    live = set(DbtJob.objects.filter(removed=False).values_list("dbt_id", flat=True))
    assert live == {A.HOURLY}
    for uid in SOURCES:  # freshness came from the nightly (and Airflow) runs only
        n = node(uid)
        assert (n.freshness_status, n.freshness_run, n.freshness_job) == ("", None, None), uid
    for uid in BUILT:  # last built: only the nightly job built them
        n = node(uid)
        assert (n.execution_status, n.execution_run, n.execution_job, n.executed_at) == (
            "",
            None,
            None,
            None,
        ), uid
        assert (n.compiled_code, n.compiled_run) == ("", None), uid  # the hourly compiled no model
        assert (n.catalog_columns, n.catalog_run) == ([], None), uid  # no docs on the hourly job
        assert (run_id(n.run), job_id(n.job)) == (A.HOURLY_RUN, A.HOURLY), uid
        if n.table_id:
            assert builders(n.table) == [], uid
    for uid in ORDERS_TESTS:  # the hourly job's own result
        t = dbt_test(uid)
        assert (t.status, run_id(t.result_run), job_id(t.result_job)) == (
            "pass",
            A.HOURLY_RUN,
            A.HOURLY,
        ), uid
    for uid in UNSELECTED | {A.NEW_TEST}:  # only the nightly job ran them
        t = dbt_test(uid)
        assert (t.status, t.result_run, t.result_job, t.executed_at) == ("", None, None, None), uid
    assert DbtTestResult.objects.count() == rows_before  # history kept
    assert [h[:4] for h in history(A.FLIPPED)] == [
        ("fail", 99, A.NIGHTLY, A.NIGHTLY_RUN),
        ("pass", 0, A.HOURLY, A.HOURLY_RUN),
    ]


# --- Jobs (Deliver 2, as this account shows it) ------------------------------------------------


def test_only_live_jobs_are_stored_and_inactive_ones_cost_no_request_or_warning(account, dbt_cloud):
    jobs = {j.dbt_id: j for j in DbtJob.objects.filter(removed=False)}
    assert {i: j.state for i, j in jobs.items()} == {
        A.NIGHTLY: DbtJob.State.SCHEDULED,
        A.HOURLY: DbtJob.State.SCHEDULED,
        A.AIRFLOW: DbtJob.State.TRIGGERED,
    }
    inactive = {A.IDLE, *A.RETIRED}
    asked = {
        int(r["query"]["job_definition_id"][0])
        for r in dbt_cloud.requests_to(r"/runs/$")
        if r["query"].get("job_definition_id")
    }
    assert not asked & inactive
    first_sync_calls = len(dbt_cloud.requests_to(r"/runs/$"))
    assert first_sync_calls < 10, first_sync_calls  # not one per job of 104
    # No warning per inactive job: one summary line at most.
    about = [w for w in account.first_sync.warnings if "Retired job" in w or "Backfill" in w]
    assert len(about) <= 1, about
    assert all("101 jobs" in w for w in about), about


# --- Matching scenarios (Deliver 3 and 5) ------------------------------------------------------


def connect_one_job(dbt_cloud, manifest: dict, run_results: dict, name: str = "dbt prod"):
    """An account with one scheduled build job whose run serves these artifacts."""
    dbt_cloud.add_account(A.ACCOUNT, "Jaffle Analytics")
    dbt_cloud.add_project(A.PROJECT, "jaffle_shop", A.ACCOUNT)
    dbt_cloud.add_environment(A.PROD, A.PROJECT, "Production", "deployment", "production")
    dbt_cloud.add_job(
        A.NIGHTLY,
        A.PROJECT,
        A.PROD,
        "Nightly build",
        generate_docs=False,
        run_generate_sources=False,
    )
    A.one_build_run(dbt_cloud, A.NIGHTLY_RUN, A.NIGHTLY, manifest, run_results)
    return integration_create(
        connector_key="dbt_cloud",
        name=name,
        config={
            "account_id": A.ACCOUNT,
            "access_url": dbt_cloud.url,
            "token": dbt_cloud.state.token,
        },
    )


def test_a_model_with_a_disabled_twin_is_enabled_matched_and_in_the_match_report(
    worker, dbt_cloud, warehouse_config
):
    from tests.support.dbt_variants import CUSTOMERS, only_disabled, with_disabled_twin

    gone = "model.jaffle_shop.stg_payments"
    manifest = only_disabled(with_disabled_twin(artifact("manifest.json")), gone)
    results = artifact("run_results.json")
    results["results"] = [r for r in results["results"] if r["unique_id"] != gone]
    warehouse = integration_create(
        connector_key="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert run_sync(warehouse, timeout=SYNC_TIMEOUT).status == SyncRun.Status.SUCCEEDED
    dbt = connect_one_job(dbt_cloud, manifest, results)
    SyncRun.objects.filter(integration=dbt).delete()  # no chained run: the warehouse came first
    sync(dbt)
    customers = node(CUSTOMERS)
    assert (customers.removed, customers.match_status, customers.table.name) == (
        False,
        "matched",
        "customers",
    )
    assert customers.description == MANIFEST["nodes"][CUSTOMERS]["description"]  # not the twin's
    assert customers.materialized == "table"
    assert not DbtNode.objects.filter(unique_id=gone, removed=False).exists()


def test_each_version_of_a_versioned_model_matches_its_own_table_and_keeps_its_tests(
    worker, dbt_cloud, warehouse, warehouse_config, pg_server
):
    from tests.support.dbt_variants import CUSTOMERS, versioned, versioned_results

    with pg_server.connect(warehouse) as conn:  # dbt built both versions
        for v in (1, 2):
            conn.execute(
                f"CREATE TABLE analytics.customers_v{v} AS SELECT * FROM analytics.customers"
            )
        conn.commit()
    manifest = versioned(artifact("manifest.json"), tests_on=1)
    results = versioned_results(artifact("run_results.json"))
    wh = integration_create(connector_key="postgres", name="jaffle_shop", config=warehouse_config)
    assert run_sync(wh, timeout=SYNC_TIMEOUT).status == SyncRun.Status.SUCCEEDED
    dbt = connect_one_job(dbt_cloud, manifest, results)
    SyncRun.objects.filter(integration=dbt).delete()
    sync(dbt)
    v1, v2 = node(f"{CUSTOMERS}.v1"), node(f"{CUSTOMERS}.v2")
    assert (v1.match_status, v1.table.name, v1.version) == ("matched", "customers_v1", "1")
    assert (v2.match_status, v2.table.name, v2.version) == ("matched", "customers_v2", "2")
    assert v1.latest_version == v2.latest_version == "2"
    own = DbtTest.objects.get(unique_id="test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1")
    assert (own.node_id, own.table_id) == (v1.pk, v1.table_id)
    assert [name for name, _at in builders(v2.table)] == ["Nightly build"]


def test_with_two_warehouses_an_exact_database_name_wins_and_equal_ones_are_ambiguous(
    worker, dbt_cloud, warehouse_config, pg_server
):
    second = pg_server.create_database("wh")
    try:
        pg_server.restore(second)
        first_wh = integration_create(
            connector_key="postgres", name="jaffle_shop", config=warehouse_config
        )
        second_wh = integration_create(
            connector_key="postgres",
            name="jaffle_shop copy",
            config=pg_server.integration_config(second),
        )
        for wh in (first_wh, second_wh):  # the first one is synced first
            assert run_sync(wh, timeout=SYNC_TIMEOUT).status == SyncRun.Status.SUCCEEDED
        manifest = A.manifest_in_database(second)
        dbt = connect_one_job(dbt_cloud, manifest, artifact("run_results.json"))
        SyncRun.objects.filter(integration=dbt).delete()
        sync(dbt)
        for uid in BUILT:
            n = node(uid)
            assert (n.match_status, n.table.integration_id) == ("matched", second_wh.pk), uid
        assert (
            Table.objects.filter(integration=first_wh)
            .exclude(description="")
            .filter(description_source="dbt")
            .count()
            == 0
        )

        # dbt's database named neither: both fit equally, so neither is chosen.
        dbt_cloud.add_run(
            A.LATER_NIGHTLY_RUN,
            A.NIGHTLY,
            10,
            steps=[
                (A.CLONE_STEP, {}),
                (
                    A.step_name("dbt build"),
                    {
                        "manifest.json": artifact("manifest.json"),
                        "run_results.json": artifact("run_results.json"),
                    },
                ),
            ],
        )
        sync(dbt)
        for uid in BUILT:
            n = node(uid)
            assert (n.match_status, n.table_id) == ("unmatched", None), uid
            assert "ambiguous" in n.match_reason.lower(), (uid, n.match_reason)
            assert first_wh.name in n.match_reason and second_wh.name in n.match_reason, uid
        # The match moved away from the copy's tables: dbt's values came off them.
        assert not dbt_valued(second_wh)

        # The mapping the reason points to settles it: the first warehouse, and only it.
        database = MANIFEST["nodes"][next(iter(BUILT))]["database"]
        integration_update(
            integration=dbt,
            config={**dbt.config, "database_map": {database: warehouse_config["database"]}},
        )
        sync(dbt)
        for uid in BUILT:
            n = node(uid)
            assert (n.match_status, n.table.integration_id) == ("matched", first_wh.pk), uid
        assert dbt_valued(first_wh) and not dbt_valued(second_wh)
    finally:
        pg_server.drop_database(second)
