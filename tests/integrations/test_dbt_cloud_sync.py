"""dbt Cloud end to end: the stand-in API serves the real jaffle_shop artifacts as job runs;
the sync reads them over HTTP and enriches the real warehouse catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from catalog.models import DbtJob, DbtNode, DbtRun, DbtTest, DbtTestResult, Table
from catalog.selectors import catalog_export_data
from integrations.models import Integration, SyncRun
from integrations.services import integration_create, sync_execute
from tests.integrations.test_sync_worker import run_sync
from tests.support.dbt_cloud_standin import jaffle_shop_steps
from tests.support.dbt_fixtures import artifact
from tests.support.waiting import wait_until

ACCOUNT, PROJECT, PROD, DEV = 70403103922125, 70000000000310, 70000000000555, 70000000000556
PROD_JOB, CI_JOB, DEV_JOB = 70000000004021, 70000000004022, 70000000004023
MANIFEST = artifact("manifest.json")
FAILING = "test.jaffle_shop.not_null_raw_orders_snapshot_dbt_valid_to.ec565168da"


def at(hour: int) -> datetime:
    return datetime(2026, 11, 27, hour, 0, tzinfo=UTC)


def world(standin) -> None:
    standin.add_account(ACCOUNT, "Jaffle Analytics")
    standin.add_project(PROJECT, "jaffle_shop", ACCOUNT)
    standin.add_environment(PROD, PROJECT, "Production", "deployment", "production")
    standin.add_environment(DEV, PROJECT, "Development", "development", None)
    standin.add_job(PROD_JOB, PROJECT, PROD, "Prod nightly")
    standin.add_job(CI_JOB, PROJECT, PROD, "CI checks", job_type="ci", cron=None)
    standin.add_job(DEV_JOB, PROJECT, DEV, "Dev build")
    standin.add_jaffle_shop_run(100, PROD_JOB, 10, finished_at=at(1))
    # The newest finished run errored (a test failed): that is the one users need.
    standin.add_jaffle_shop_run(101, PROD_JOB, 20, finished_at=at(5))
    standin.add_run(102, PROD_JOB, 1)  # queued: no finished_at, sorts first under -finished_at
    standin.add_jaffle_shop_run(200, CI_JOB, 10, finished_at=at(6))
    standin.add_jaffle_shop_run(300, DEV_JOB, 10, finished_at=at(6))


def flipped_steps() -> list:
    steps = jaffle_shop_steps()
    steps[2] = (steps[2][0], {**steps[2][1], "run_results.json": flipped_run_results()})
    return steps


def flipped_run_results() -> bytes:
    results = artifact("run_results.json")
    for r in results["results"]:
        if r["unique_id"] == FAILING:
            r.update(status="pass", failures=0, message=None)
    return json.dumps(results).encode()


@pytest.fixture
def connected(request, dbt_cloud, warehouse_config):
    """The warehouse, and dbt Cloud connected against the stand-in."""
    if "worker" not in request.fixturenames:
        request.getfixturevalue("db")
    world(dbt_cloud)
    warehouse = integration_create(
        connector_key="postgres", name="jaffle_shop", config=warehouse_config
    )
    dbt = integration_create(
        connector_key="dbt_cloud",
        name="dbt prod",
        config={"account_id": ACCOUNT, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token},
    )
    return warehouse, dbt


@pytest.mark.worker
def test_worker_syncs_dbt_cloud_and_enriches_the_warehouse_tables(worker, connected, dbt_cloud):
    warehouse, dbt = connected
    first = run_sync(warehouse)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    # The warehouse sync chained a dbt Cloud sync; the worker queues it just after marking
    # the warehouse run succeeded, so wait for it rather than racing it.
    chained = wait_until(
        lambda: SyncRun.objects.filter(integration=dbt).first(), timeout=30, what="the chained run"
    )
    assert chained.trigger == SyncRun.Trigger.CHAINED

    wait_until(
        lambda: SyncRun.objects.get(pk=chained.pk).status in ("succeeded", "failed"),
        timeout=90,
        what="the chained dbt Cloud sync",
    )
    chained.refresh_from_db()
    assert chained.status == SyncRun.Status.SUCCEEDED, chained.error

    assert set(DbtJob.objects.values_list("dbt_id", flat=True)) == {PROD_JOB}  # no CI, no dev
    newest = DbtRun.objects.get(dbt_id=101)
    assert newest.ingested_at is not None and (newest.status, newest.status_code) == ("error", 20)
    assert newest.trigger_cause == "scheduled" and newest.url.endswith("/runs/101/")
    assert not DbtRun.objects.filter(dbt_id__in=[100, 102, 200, 300]).exists()
    relations = [
        uid
        for uid, n in MANIFEST["nodes"].items()
        if n["resource_type"] in ("model", "seed", "snapshot")
    ]
    matched = DbtNode.objects.filter(unique_id__in=relations, match_status="matched")
    assert matched.count() == 10
    customers = Table.objects.get(name="customers", integration=warehouse)
    assert customers.description == MANIFEST["nodes"]["model.jaffle_shop.customers"]["description"]
    failing = DbtTest.objects.get(unique_id=FAILING)
    assert (failing.status, failing.failures, failing.run.dbt_id) == ("fail", 99, 101)
    assert DbtTest.objects.exclude(test_type="constraint").filter(status="pass").count() == 31
    sources = {n.name: n.freshness_status for n in DbtNode.objects.filter(resource_type="source")}
    assert sources == {"raw_customers": "pass", "raw_payments": "warn", "raw_orders": "error"}
    # sources.json came from the freshness step, run_results from the build step, not docs.
    asked = [
        (r["path"], r["query"].get("step")) for r in dbt_cloud.requests_to("/runs/101/artifacts/")
    ]
    assert (f"/api/v2/accounts/{ACCOUNT}/runs/101/artifacts/sources.json", ["2"]) in asked
    assert (f"/api/v2/accounts/{ACCOUNT}/runs/101/artifacts/run_results.json", ["3"]) in asked
    export = catalog_export_data()
    dbt_export = next(i for i in export["integrations"] if i["connector"] == "dbt_cloud")["dbt"]
    assert {r["status"] for r in dbt_export["match_report"]} == {"matched"}

    # A re-sync with no new run writes nothing.
    before = list(DbtNode.objects.order_by("pk").values_list("pk", "updated_at"))
    again = run_sync(dbt)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert not any(
        c.get("created") or c.get("updated") or c.get("removed") for c in again.counts.values()
    )
    assert list(DbtNode.objects.order_by("pk").values_list("pk", "updated_at")) == before
    assert not dbt_cloud.requests_to("/runs/101/artifacts/manifest.json")[1:]  # downloaded once

    # A new run that flips the failing test adds one history row.
    dbt_cloud.add_run(103, PROD_JOB, 10, finished_at=at(7), steps=flipped_steps())
    flipped = run_sync(dbt)
    assert flipped.status == SyncRun.Status.SUCCEEDED, flipped.error
    failing.refresh_from_db()
    assert (failing.status, failing.run.dbt_id) == ("pass", 103)
    assert list(
        DbtTestResult.objects.filter(test=failing).order_by("id").values_list("status", flat=True)
    ) == ["fail", "pass"]
    assert flipped.counts["test_result"]["created"] == 1


def _sync(integration) -> SyncRun:
    run = SyncRun.objects.create(integration=integration)
    sync_execute(run=run)
    run.refresh_from_db()
    return run


@pytest.fixture
def enriched(connected, settings, dbt_cloud):
    """A first good dbt sync, then a new run waiting to be read."""
    settings.DBT_CLOUD_BACKOFF, settings.DBT_CLOUD_MAX_BACKOFF = 0.01, 0.05
    settings.DBT_CLOUD_TIMEOUT, settings.DBT_CLOUD_MAX_ATTEMPTS = 1.0, 4
    settings.SYNC_MAX_ATTEMPTS = 1
    warehouse, dbt = connected
    assert _sync(warehouse).status == SyncRun.Status.SUCCEEDED
    SyncRun.objects.filter(integration=dbt).delete()  # the chained run, not executed here
    assert _sync(dbt).status == SyncRun.Status.SUCCEEDED
    dbt_cloud.add_jaffle_shop_run(103, PROD_JOB, 10, finished_at=at(7))
    return dbt


def _dbt_state(dbt) -> dict:
    export = catalog_export_data()
    return {
        "dbt": next(i for i in export["integrations"] if i["id"] == dbt.pk)["dbt"],
        "tables": [
            t["dbt"]
            for i in export["integrations"]
            for d in i["databases"]
            for s in d["schemas"]
            for t in s["tables"]
        ],
        "descriptions": list(
            Table.objects.order_by("pk").values_list("description", "description_source")
        ),
    }


@pytest.mark.parametrize(
    "fault, path, expected_calls",
    [
        ("429", "/runs/$", 2),
        ("500x3", "/artifacts/manifest.json$", 4),
        ("timeout", "/jobs/$", 2),
    ],
)
def test_transient_faults_are_retried_and_the_sync_succeeds(
    enriched, dbt_cloud, fault, path, expected_calls
):
    before = len(dbt_cloud.requests_to(path))
    if fault == "429":
        dbt_cloud.fail_next(path, 429, headers={"Retry-After": "1"})
    elif fault == "500x3":
        dbt_cloud.fail_next(path, 500, times=3)
    else:
        dbt_cloud.delay_next(path, 3.0)

    run = _sync(enriched)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert len(dbt_cloud.requests_to(path)) - before == expected_calls
    assert DbtRun.objects.get(dbt_id=103).ingested_at is not None


@pytest.mark.parametrize(
    "fault, message",
    [
        ("truncated", "manifest.json of dbt Cloud run 103 is not valid JSON (truncated download?)"),
        (
            "401",
            "dbt Cloud refused the token (Invalid token.). Check the service token, and that the access URL",
        ),
        ("500 forever", "dbt Cloud answered 500 to GET"),
        ("timeout forever", "did not answer (ReadTimeout)"),
    ],
)
def test_failures_say_what_happened_and_keep_the_previous_enrichment(
    enriched, dbt_cloud, fault, message
):
    before = _dbt_state(enriched)
    if fault == "truncated":
        dbt_cloud.truncate_next("/runs/103/artifacts/manifest.json", 5000)
    elif fault == "401":
        dbt_cloud.state.token = "rotated-token"
    elif fault == "500 forever":
        dbt_cloud.fail_next("/runs/103/artifacts/manifest.json", 500, times=10)
    else:
        dbt_cloud.delay_next("/runs/$", 3.0, times=10)

    run = _sync(enriched)

    assert run.status == SyncRun.Status.FAILED
    assert message in run.error
    assert enriched.config["token"] not in run.error
    assert _dbt_state(enriched) == before
    assert DbtRun.objects.filter(dbt_id=103).count() == 0  # nothing of the failed sync stays
    assert Integration.objects.get(pk=enriched.pk).status == Integration.Status.FAILING


def test_a_missing_optional_artifact_is_a_warning_not_a_failure(enriched, dbt_cloud):
    steps = jaffle_shop_steps(docs=False)
    dbt_cloud.add_run(104, PROD_JOB, 10, finished_at=at(8), steps=steps, has_docs_generated=True)
    run = _sync(enriched)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert any("Run 104 has no catalog.json" in w for w in run.warnings)


def test_runs_between_two_syncs_complete_the_tests_history(enriched, dbt_cloud):
    # `enriched` read run 101 (the test failed); run 103 (fails again) waits, then:
    dbt_cloud.add_run(104, PROD_JOB, 10, finished_at=at(8), steps=flipped_steps())
    dbt_cloud.add_jaffle_shop_run(105, PROD_JOB, 20, finished_at=at(9))
    dbt_cloud.add_run(106, PROD_JOB, 10, finished_at=at(10), steps=flipped_steps())

    sync = _sync(enriched)

    assert sync.status == SyncRun.Status.SUCCEEDED, sync.error
    failing = DbtTest.objects.get(unique_id=FAILING)
    history = failing.history.order_by("id").values_list("run__dbt_id", "status")
    assert list(history) == [(101, "fail"), (104, "pass"), (105, "fail"), (106, "pass")]
    assert (failing.status, failing.run.dbt_id) == ("pass", 106)
    assert set(
        DbtRun.objects.filter(ingested_at__isnull=False).values_list("dbt_id", flat=True)
    ) == {101, 103, 104, 105, 106}
    for between in (103, 104, 105):  # their test results only, from the build step
        asked = [
            r["path"].rsplit("/", 1)[-1]
            for r in dbt_cloud.requests_to(f"/runs/{between}/artifacts/")
        ]
        assert asked == ["run_results.json"]
    assert len(dbt_cloud.requests_to("/runs/106/artifacts/manifest.json")) == 1


def test_runs_beyond_the_window_since_the_last_sync_are_reported(enriched, dbt_cloud, monkeypatch):
    monkeypatch.setattr("integrations.connectors.dbt_cloud_runs.RUNS_PER_JOB_LOOKED_AT", 3)
    dbt_cloud.add_run(104, PROD_JOB, 10, finished_at=at(8), steps=flipped_steps())
    dbt_cloud.add_jaffle_shop_run(105, PROD_JOB, 20, finished_at=at(9))

    sync = _sync(enriched)

    assert sync.status == SyncRun.Status.SUCCEEDED, sync.error
    assert any(
        "Run 101 of job “Prod nightly”, read by the last sync, is not among its 3 newest" in w
        for w in sync.warnings
    )
    history = DbtTest.objects.get(unique_id=FAILING).history.order_by("id")
    assert list(history.values_list("run__dbt_id", "status")) == [
        (101, "fail"),
        (104, "pass"),
        (105, "fail"),
    ]
