"""dbt Cloud jobs: each job's state (scheduled, triggered by the API or an orchestrator,
inactive) from its triggers and runs, and each live job's newest runs found with one
runs-list walk per environment. Real HTTP against the stand-in dbt Cloud; no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.connectors.dbt_cloud import account_choices, client_for
from integrations.connectors.dbt_cloud_runs import walk
from integrations.connectors.dbt_records import (
    DbtArtifacts,
    DbtJobRecord,
    DbtRunRecord,
    DbtTestOutcomes,
    SyncState,
)
from tests.support.reporting import RecordingReporter

ACCOUNT, PROJECT, PROD, OTHER_ENV = 7, 70, 700, 701
NIGHTLY, NEVER_RUN, AIRFLOW, STALE, NEW_NIGHTLY = 7000, 7001, 7002, 7003, 7004
DEACTIVATED = 7100  # the first of the deactivated jobs
RUNS_LIST = r"/runs/$"
NO_TRIGGER = {"schedule": False, "github_webhook": False, "git_provider_webhook": False}
NOW = datetime.now(UTC)


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


def account(standin, *, deactivated: int = 100) -> None:
    """A scheduled job; a job with no trigger and no run; one with no trigger and a
    recent run Airflow started; one with no trigger whose last run is older than the
    window; a scheduled job not run yet; and `deactivated` jobs with every trigger off, in
    two environments, every tenth with a run long ago."""
    standin.add_account(ACCOUNT, "Acme")
    standin.add_project(PROJECT, "analytics", ACCOUNT)
    standin.add_environment(PROD, PROJECT, "Production", "deployment", "production")
    standin.add_environment(OTHER_ENV, PROJECT, "Backfills", "deployment", "staging")
    standin.add_job(NIGHTLY, PROJECT, PROD, "Nightly build")
    standin.add_job(NEVER_RUN, PROJECT, PROD, "Never run", job_type="other", cron=None)
    standin.add_job(AIRFLOW, PROJECT, PROD, "Airflow export", job_type="other", cron=None)
    standin.add_job(
        STALE, PROJECT, PROD, "Old export", job_type="other", cron=None, triggers=NO_TRIGGER
    )
    standin.add_job(NEW_NIGHTLY, PROJECT, PROD, "New nightly")
    run_id = 90_000
    for n in range(deactivated):
        job_id = DEACTIVATED + n
        env = PROD if n % 2 else OTHER_ENV
        # custom_branch_only is not a trigger.
        triggers = {**NO_TRIGGER, "on_merge": False, "custom_branch_only": n % 3 == 0}
        standin.add_job(job_id, PROJECT, env, f"Deactivated {n:03}", cron=None, triggers=triggers)
        if n % 10 == 0:
            run_id += 1
            standin.add_run(run_id, job_id, 10, finished_at=ago(days=200 + n), steps=[])
    standin.add_jaffle_shop_run(101, NIGHTLY, 10, finished_at=ago(days=1))
    standin.add_jaffle_shop_run(
        201,
        AIRFLOW,
        10,
        finished_at=ago(days=2),
        trigger_cause="Kicked off from Airflow",
        cause_category="api",
    )
    standin.add_jaffle_shop_run(301, STALE, 10, finished_at=ago(days=45))


def config_for(standin, **extra) -> dict:
    return {
        "account_id": ACCOUNT,
        "access_url": standin.url,
        "token": standin.state.token,
        **extra,
    }


class Synced:
    """What one walk yielded, and what it asked dbt Cloud."""

    def __init__(self, standin, config: dict, state: dict | None = None) -> None:
        before = len(standin.state.requests)
        self.reporter = RecordingReporter()
        with client_for(config, max_attempts=1) as client:
            self.records = list(walk(client, config, reporter=self.reporter, state=state or {}))
        self.requests = standin.state.requests[before:]
        self.jobs = {r.dbt_id: r for r in self.records if isinstance(r, DbtJobRecord)}
        self.runs = {r.dbt_id: r for r in self.records if isinstance(r, DbtRunRecord)}
        self.artifacts = [r for r in self.records if isinstance(r, DbtArtifacts)]
        self.outcomes = [r for r in self.records if isinstance(r, DbtTestOutcomes)]
        self.state = next(r.data for r in self.records if isinstance(r, SyncState))

    @property
    def warnings(self) -> list[str]:
        return self.reporter.warnings

    def runs_lists(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/runs/")]

    def walks(self) -> list[dict]:
        return [r for r in self.runs_lists() if "environment_id" in r["query"]]

    def per_job_calls(self) -> list[dict]:
        return [r for r in self.runs_lists() if "job_definition_id" in r["query"]]

    def artifact_requests(self) -> list[dict]:
        return [r for r in self.requests if "/artifacts/" in r["path"]]


@pytest.fixture
def standin(dbt_cloud):
    account(dbt_cloud)
    return dbt_cloud


def test_only_live_jobs_are_read_each_with_its_state_and_triggers(standin):
    synced = Synced(standin, config_for(standin))

    assert set(synced.jobs) == {NIGHTLY, AIRFLOW, NEW_NIGHTLY}
    assert (synced.jobs[NIGHTLY].state, synced.jobs[NIGHTLY].triggers) == (
        "scheduled",
        ("schedule",),
    )
    assert (synced.jobs[AIRFLOW].state, synced.jobs[AIRFLOW].triggers) == ("triggered", ())
    assert synced.jobs[NEW_NIGHTLY].state == "scheduled"
    assert set(synced.runs) == {101, 201}
    assert synced.runs[201].trigger_cause == "Kicked off from Airflow"
    assert {a.provenance.run_id for a in synced.artifacts} == {101, 201}
    assert synced.state["ingested_runs"] == {str(NIGHTLY): 101, str(AIRFLOW): 201}
    # No request names an inactive job or one of its runs.
    inactive = {NEVER_RUN, STALE, *range(DEACTIVATED, DEACTIVATED + 100)}
    assert not [
        r
        for r in synced.requests
        if any(str(job) in r["path"] for job in inactive) or "/runs/301/" in r["path"]
    ]


def test_inactive_jobs_raise_one_summary_warning_and_a_scheduled_job_without_runs_its_own(
    standin,
):
    synced = Synced(standin, config_for(standin))

    assert synced.warnings == [
        "102 jobs have no trigger and no finished run in the last 30 days, so they are not "
        "read: “Never run”, “Old export”, “Deactivated 000” and 99 more. Choose one under "
        "“Only jobs” to read it anyway.",
        "Job “New nightly” has no finished run with artifacts yet.",
    ]


@pytest.mark.parametrize("deactivated", [10, 100])
def test_runs_list_calls_do_not_grow_with_the_number_of_inactive_jobs(dbt_cloud, deactivated):
    account(dbt_cloud, deactivated=deactivated)

    synced = Synced(dbt_cloud, config_for(dbt_cloud))

    # One walk of Production's runs, newest first; Backfills holds only jobs the jobs list
    # already shows inactive (no trigger, no recent completed run): no call at all.
    (walk_call,) = synced.runs_lists()
    assert walk_call["query"] == {
        "environment_id": [str(PROD)],
        "status__in": ["[10,20]"],
        "order_by": ["-finished_at"],
        "include_related": ["trigger"],
        "limit": ["100"],
        "offset": ["0"],
    }
    # The rest: account, projects, environments; the jobs list, a page per 100 jobs; per
    # run read, its steps and its artifacts: the project's newest run 4 (manifest, build
    # run_results, sources, catalog), the other run of the same project 3 (no manifest: the
    # newest one's says what the nodes are).
    jobs_pages = -(-(5 + deactivated) // 100)
    others = [r for r in synced.requests if not r["path"].endswith("/runs/")]
    assert len(others) == 3 + jobs_pages + (1 + 4) + (1 + 3)
    manifests = [r for r in synced.requests if r["path"].endswith("/manifest.json")]
    assert len(manifests) == 1
    assert len(synced.jobs) == 3


@pytest.mark.parametrize("deactivated", [10, 100])
def test_when_the_jobs_list_has_no_recent_run_the_walk_still_costs_one_call_per_environment(
    dbt_cloud, deactivated
):
    account(dbt_cloud, deactivated=deactivated)
    dbt_cloud.state.ignored_related = {"most_recent_completed_run"}

    synced = Synced(dbt_cloud, config_for(dbt_cloud))

    assert set(synced.jobs) == {NIGHTLY, AIRFLOW, NEW_NIGHTLY}
    # Without the jobs list's hint, each environment's runs tell which jobs ran lately.
    assert [r["query"]["environment_id"] for r in synced.walks()] == [[str(PROD)], [str(OTHER_ENV)]]
    # New nightly's newest run was not among Production's runs: one call of its own.
    assert len(synced.per_job_calls()) == 1 and synced.per_job_calls()[0]["query"][
        "job_definition_id"
    ] == [str(NEW_NIGHTLY)]
    assert (
        synced.warnings[0].startswith(f"{2 + deactivated} jobs have no trigger")
        and len(synced.warnings) == 2
    )


def test_progress_counts_the_live_jobs(standin):
    synced = Synced(standin, config_for(standin))
    assert synced.reporter.progress_calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_second_sync_with_no_new_run_fetches_no_artifact(standin):
    config = config_for(standin)
    first = Synced(standin, config)

    second = Synced(standin, config, state=first.state)

    assert second.artifact_requests() == [] and not second.artifacts and not second.outcomes
    assert not [r for r in second.requests if r["path"].endswith(("/runs/101/", "/runs/201/"))]
    assert set(second.jobs) == set(first.jobs) and set(second.runs) == {101, 201}
    assert len(second.runs_lists()) == 1
    assert second.state == first.state


def test_runs_since_the_last_sync_come_from_the_same_walk(standin):
    config = config_for(standin)
    first = Synced(standin, config)
    for n, run_id in enumerate((102, 103, 104)):
        standin.add_jaffle_shop_run(run_id, NIGHTLY, 10, finished_at=ago(hours=20 - n))

    second = Synced(standin, config, state=first.state)

    assert len(second.runs_lists()) == 1 and not second.per_job_calls()
    assert [o.provenance.run_id for o in second.outcomes] == [102, 103]  # oldest first
    assert [a.provenance.run_id for a in second.artifacts] == [104]
    assert second.state["ingested_runs"][str(NIGHTLY)] == 104
    asked = {
        r["path"].rsplit("/", 1)[-1] for r in second.artifact_requests() if "/102/" in r["path"]
    }
    assert asked == {"run_results.json"}


def test_a_job_named_by_the_integration_is_read_even_inactive_and_labelled_so(standin):
    synced = Synced(standin, config_for(standin, job_ids=[str(NIGHTLY), str(STALE)]))

    assert set(synced.jobs) == {NIGHTLY, STALE}
    assert synced.jobs[STALE].state == "inactive" and synced.jobs[STALE].triggers == ()
    assert set(synced.runs) == {101, 301}
    assert {a.provenance.run_id for a in synced.artifacts} == {101, 301}
    assert synced.warnings == []  # asked for: no summary line
    # Known inactive from the jobs list: its own call, not a walk through the window.
    assert [r["query"]["job_definition_id"] for r in synced.per_job_calls()] == [[str(STALE)]]
    assert len(synced.runs_lists()) == 2


def test_the_active_window_is_a_setting(standin, settings):
    settings.DBT_CLOUD_ACTIVE_WINDOW_DAYS = 60
    synced = Synced(standin, config_for(standin))
    assert synced.jobs[STALE].state == "triggered" and 301 in synced.runs
    assert synced.warnings[0].startswith(
        "101 jobs have no trigger and no finished run in the last 60 days"
    )


def test_the_old_job_shape_with_deactivated_gives_the_same_jobs(standin):
    standin.state.send_deactivated = True
    synced = Synced(standin, config_for(standin))
    assert {j: r.state for j, r in synced.jobs.items()} == {
        NIGHTLY: "scheduled",
        AIRFLOW: "triggered",
        NEW_NIGHTLY: "scheduled",
    }


def test_a_busy_environment_is_paged_only_to_the_window_then_a_rare_job_gets_its_own_call(
    dbt_cloud,
):
    """250 runs every 4 hours (41 days); the window of 30 days ends in the second page."""
    account(dbt_cloud, deactivated=100)
    dbt_cloud.state.ignored_related = {"most_recent_completed_run"}
    dbt_cloud.add_job(7005, PROJECT, PROD, "Hourly tests", execute_steps=["dbt test"])
    for n in range(250):
        dbt_cloud.add_run(80_249 - n, 7005, 10, finished_at=ago(hours=4 * n + 3), steps=[])
    dbt_cloud.add_job(7006, PROJECT, PROD, "Quarterly", cron="0 5 1 */3 *")
    dbt_cloud.add_jaffle_shop_run(601, 7006, 10, finished_at=ago(days=50))

    synced = Synced(dbt_cloud, config_for(dbt_cloud))

    assert [(r["query"]["environment_id"], r["query"]["offset"]) for r in synced.walks()] == [
        ([str(PROD)], ["0"]),
        ([str(PROD)], ["100"]),
        ([str(OTHER_ENV)], ["0"]),
    ]
    own = sorted(r["query"]["job_definition_id"][0] for r in synced.per_job_calls())
    assert own == [str(NEW_NIGHTLY), "7006"]  # never run; its newest run is 50 days old
    assert synced.jobs[7006].state == "scheduled" and 601 in synced.runs
    # Hourly tests saved no artifacts in its 30 newest runs: settled by the walk, as the
    # per-job call of 30 runs did before.
    assert "Job “Hourly tests” has no finished run with artifacts yet." in synced.warnings
    assert not any(str(DEACTIVATED + 1) in str(r["query"]) for r in synced.requests)


def test_a_scheduled_job_last_run_before_the_window_gets_its_own_call_and_no_long_walk(
    dbt_cloud,
):
    account(dbt_cloud, deactivated=10)
    dbt_cloud.add_job(7005, PROJECT, PROD, "Hourly tests", execute_steps=["dbt test"])
    for n in range(250):
        dbt_cloud.add_run(80_249 - n, 7005, 10, finished_at=ago(hours=4 * n + 3), steps=[])
    dbt_cloud.add_jaffle_shop_run(85_000, 7005, 10, finished_at=ago(hours=2))
    dbt_cloud.add_job(7006, PROJECT, PROD, "Quarterly", cron="0 5 1 */3 *")
    dbt_cloud.add_jaffle_shop_run(601, 7006, 10, finished_at=ago(days=50))

    synced = Synced(dbt_cloud, config_for(dbt_cloud))

    # The jobs list says Quarterly last completed 50 days ago: one call of its own, and the
    # walk of Production stops at its first page.
    assert [r["query"]["offset"] for r in synced.walks()] == [["0"]]
    assert [r["query"]["job_definition_id"] for r in synced.per_job_calls()] == [["7006"]]
    assert synced.jobs[7006].state == "scheduled" and {601, 85_000} <= set(synced.runs)


def test_the_walk_stops_at_the_first_page_once_every_job_has_its_newest_run(dbt_cloud):
    account(dbt_cloud, deactivated=10)
    dbt_cloud.add_job(7005, PROJECT, PROD, "Hourly tests", execute_steps=["dbt test"])
    for n in range(250):
        dbt_cloud.add_run(80_249 - n, 7005, 10, finished_at=ago(hours=4 * n + 3), steps=[])
    dbt_cloud.add_jaffle_shop_run(85_000, 7005, 10, finished_at=ago(hours=2))

    synced = Synced(dbt_cloud, config_for(dbt_cloud))

    assert [r["query"]["offset"] for r in synced.runs_lists()] == [["0"]]
    assert synced.runs[85_000].job_id == 7005


def test_the_job_picker_shows_each_jobs_state(standin):
    labels = dict(account_choices(config_for(standin))["job_ids"])
    assert labels[str(NIGHTLY)] == "Nightly build — Production · scheduled"
    assert (
        labels[str(AIRFLOW)] == "Airflow export — Production · triggered by API or an orchestrator"
    )
    assert labels[str(NEVER_RUN)] == "Never run — Production · inactive"
    assert labels[str(STALE)] == "Old export — Production · inactive"
    assert labels[str(DEACTIVATED)] == "Deactivated 000 — Backfills · inactive"
    assert not standin.requests_to(RUNS_LIST)  # the jobs list alone tells


def test_the_job_picker_says_no_trigger_when_the_jobs_list_cannot_tell(standin):
    standin.state.ignored_related = {"most_recent_completed_run"}
    labels = dict(account_choices(config_for(standin))["job_ids"])
    assert labels[str(NIGHTLY)] == "Nightly build — Production · scheduled"
    assert labels[str(AIRFLOW)] == "Airflow export — Production · no trigger"


@pytest.mark.django_db
def test_the_sync_progress_of_dbt_cloud_counts_jobs_and_a_warehouses_tables(
    client, standin, warehouse_config
):
    from integrations.models import SyncRun
    from integrations.services import integration_create
    from tests.factories import admin_user, postgres_integration

    client.force_login(admin_user())
    warehouse = postgres_integration(warehouse_config)
    dbt = integration_create(connector_key="dbt_cloud", name="dbt", config=config_for(standin))
    for integration in (warehouse, dbt):
        SyncRun.objects.create(
            integration=integration,
            status=SyncRun.Status.RUNNING,
            progress_done=1,
            progress_total=3,
        )

    page = client.get(f"/integrations/{dbt.pk}/").content.decode()
    assert 'data-unit="jobs"' in page and "1 / 3 jobs" in page
    page = client.get(f"/integrations/{warehouse.pk}/").content.decode()
    assert 'data-unit="tables"' in page and "1 / 3 tables" in page
