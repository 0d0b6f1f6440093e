"""Walking a dbt Cloud account: which jobs count, which run of each, which step holds
which artifact, and reading those artifacts into records."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.conf import settings

from .base import Reporter
from .dbt_artifacts import (
    load_artifact,
    parse_artifacts_from_files,
    parse_run_facts,
    test_outcomes,
)
from .dbt_cloud_api import DbtCloudClient, DbtCloudNotFound
from .dbt_cloud_jobs import HINT, SCHEDULED, RunFinder, inactive_summary, parse_time
from .dbt_records import (
    DbtArtifacts,
    DbtJobRecord,
    DbtRunRecord,
    DbtTestOutcomes,
    Provenance,
    SyncState,
)

logger = logging.getLogger(__name__)

__all__ = ["AccountWalk", "parse_duration", "parse_time", "walk"]

STEP_COMMAND = re.compile(r"^Invoke dbt with `dbt (?P<command>[^`]*)`")
BUILD_COMMANDS = ("build", "run", "test", "seed", "snapshot")
FRESHNESS_COMMANDS = ("source freshness", "source snapshot-freshness")
# The newest is read whole; the others since the last sync give the tests' history.
RUNS_PER_JOB_LOOKED_AT = 30


def parse_duration(value: str | None) -> float | None:
    """ "HH:MM:SS", hours may pass 24."""
    if not value or value.count(":") != 2:
        return None
    hours, minutes, seconds = value.split(":")
    try:
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


class AccountWalk:
    def __init__(self, client: DbtCloudClient, config: dict[str, Any], reporter: Reporter) -> None:
        self.client = client
        self.config = config
        self.reporter = reporter
        self.account = client.account_id
        self.base = client.base  # dbt Cloud's links: the rebuilt URL the client checked

    # -- jobs ------------------------------------------------------------------------------

    def projects(self) -> dict[int, dict]:
        return {p["id"]: p for p in self.client.paginate(f"v3/accounts/{self.account}/projects/")}

    def environments(self, projects: dict[int, dict]) -> dict[int, dict]:
        environments = {}
        for project_id in projects:
            for env in self.client.paginate(
                f"v3/accounts/{self.account}/projects/{project_id}/environments/"
            ):
                environments[env["id"]] = env
        return environments

    def ids(self, key: str) -> set[int]:
        return {int(x) for x in self.config.get(key) or [] if str(x).strip().isdigit()}

    def wanted(self, job: dict, environment: dict | None) -> bool:
        ids = self.ids
        if ids("job_ids"):
            return job["id"] in ids("job_ids")
        if ids("project_ids") and job.get("project_id") not in ids("project_ids"):
            return False
        if ids("environment_ids") and job.get("environment_id") not in ids("environment_ids"):
            return False
        if job.get("job_type") == "ci" and not self.config.get("include_ci"):
            return False  # CI runs build into temporary schemas
        env_type = (environment or {}).get("type")
        if env_type == "development" and not self.config.get("include_development"):
            return False
        return True

    def job_record(
        self,
        job: dict,
        projects: dict,
        environments: dict,
        *,
        state: str = SCHEDULED,
        triggers: tuple[str, ...] = (),
    ) -> DbtJobRecord:
        env = environments.get(job.get("environment_id")) or {}
        project = projects.get(job.get("project_id")) or {}
        schedule = job.get("schedule") or {}
        return DbtJobRecord(
            dbt_id=job["id"],
            name=job.get("name") or f"Job {job['id']}",
            project_id=job.get("project_id"),
            project_name=project.get("name") or "",
            environment_id=job.get("environment_id"),
            environment_name=env.get("name") or "",
            environment_type=env.get("type") or "",
            deployment_type=env.get("deployment_type") or "",
            job_type=job.get("job_type") or "",
            schedule_cron=schedule.get("cron") or "",
            generate_docs=bool(job.get("generate_docs")),
            run_generate_sources=bool(job.get("run_generate_sources")),
            execute_steps=tuple(job.get("execute_steps") or ()),
            url=f"{self.base}/deploy/{self.account}/projects/{job.get('project_id')}/jobs/{job['id']}",
            state=state,
            triggers=triggers,
        )

    # -- runs ------------------------------------------------------------------------------

    def run_record(self, run: dict) -> DbtRunRecord:
        trigger = run.get("trigger") or {}
        return DbtRunRecord(
            dbt_id=run["id"],
            job_id=run.get("job_definition_id") or run.get("job_id"),
            status_code=int(run.get("status") or 0),
            started_at=parse_time(run.get("started_at")),
            finished_at=parse_time(run.get("finished_at")),
            duration_seconds=parse_duration(run.get("run_duration") or run.get("duration")),
            url=run.get("href") or "",
            trigger_cause=trigger.get("cause") or "",
            git_sha=run.get("git_sha") or "",
            git_branch=run.get("git_branch") or "",
            has_docs_generated=bool(run.get("has_docs_generated")),
            has_sources_generated=bool(run.get("has_sources_generated")),
            dbt_version=run.get("dbt_version") or "",
        )

    def steps(self, run_id: int) -> tuple[list[int], int | None]:
        """The indices of the steps that built or tested, and of the freshness step."""
        detail = self.client.get(
            f"v2/accounts/{self.account}/runs/{run_id}/", {"include_related": "run_steps,job"}
        )
        build, freshness = [], None
        for step in (detail or {}).get("run_steps") or []:
            match = STEP_COMMAND.match(step.get("name") or "")
            if not match:
                continue
            command = match["command"].strip()
            if command.startswith(FRESHNESS_COMMANDS):
                freshness = step.get("index")
            elif command.split()[0] in BUILD_COMMANDS:
                build.append(step.get("index"))
        return build, freshness

    def artifact(self, run_id: int, path: str, *, step: int | None, required: bool) -> dict | None:
        try:
            raw = self.client.artifact(run_id, path, step=step)
        except DbtCloudNotFound:
            if required:
                raise
            where = f" (step {step})" if step else ""
            self.reporter.warning(f"Run {run_id} has no {path}{where}; its facts are skipped.")
            return None
        return load_artifact(raw, name=path, run_id=run_id)

    def manifest_to_file(self, run_id: int, dest: IO[bytes], *, step: int | None) -> None:
        """The run's manifest.json (required), downloaded into `dest`, never whole in memory."""
        self.client.artifact_to_file(run_id, "manifest.json", dest, step=step)

    def runs_since(self, runs: list[dict], last_read: int | None, job: DbtJobRecord) -> list:
        """The runs that finished after the last one read and before the newest, oldest
        first: their test results complete the tests' history. On a first sync, none."""
        if last_read is None:
            return []
        between = []
        for run in runs[1:]:
            if run["id"] == last_read:
                return between[::-1]
            between.append(run)
        self.reporter.warning(
            f"Run {last_read} of job “{job.name}”, read by the last sync, is not among its "
            f"{RUNS_PER_JOB_LOOKED_AT} newest finished runs: the tests' history misses the "
            "runs in between. Syncing more often keeps every change."
        )
        return between[::-1]

    def read_test_outcomes(self, run: dict, job: DbtJobRecord) -> DbtTestOutcomes:
        """Only the run_results of the steps that built or tested: no manifest."""
        build_steps, _freshness = self.steps(run["id"])
        results = self._run_results(run["id"], build_steps or [None])
        return DbtTestOutcomes(
            provenance=self._provenance(run, job), outcomes=test_outcomes({"results": results})
        )

    def _run_results(self, run_id: int, steps: list) -> list[dict]:
        """The results of every step that built or tested, in step order."""
        results: list[dict] = []
        for step in steps:
            found = self.artifact(run_id, "run_results.json", step=step, required=False)
            if found:
                results.extend(found.get("results") or [])
        return results

    @staticmethod
    def _provenance(run: dict, job: DbtJobRecord) -> Provenance:
        return Provenance(
            job_id=job.dbt_id, run_id=run["id"], finished_at=parse_time(run.get("finished_at"))
        )

    def _build_steps(self, run_id: int, job: DbtJobRecord) -> tuple[list, int | None]:
        build_steps, freshness_step = self.steps(run_id)
        if not build_steps:
            self.reporter.warning(
                f"Run {run_id} of job “{job.name}” lists no build, run, test, seed or snapshot "
                "step; its last step's artifacts are read."
            )
            build_steps = [None]
        return build_steps, freshness_step

    def read_run(self, run: dict, job: DbtJobRecord) -> Iterator:
        run_id = run["id"]
        build_steps, freshness_step = self._build_steps(run_id, job)
        # The manifest is the largest artifact: it goes to a temporary file (deleted on
        # close), parsed from there node by node.
        with tempfile.TemporaryFile(prefix="dbt-manifest-") as manifest:
            self.manifest_to_file(run_id, manifest, step=build_steps[-1])
            artifacts = self._parse_run(run, job, manifest, build_steps, freshness_step)
        yield artifacts

    def read_run_facts(self, run: dict, job: DbtJobRecord) -> DbtArtifacts:
        """What the run did, without its manifest: a newer run of the same project, read in
        the same sync (or before), says what each node is."""
        build_steps, freshness_step = self._build_steps(run["id"], job)
        results, sources, catalog = self._documents(run, build_steps, freshness_step)
        return parse_run_facts(
            run_results=results,
            sources=sources,
            catalog=catalog,
            provenance=self._provenance(run, job),
            project_id=job.project_id,
        )

    def _documents(
        self, run: dict, build_steps: list, freshness_step: int | None
    ) -> tuple[dict | None, dict | None, dict | None]:
        """run_results (of every build step), sources.json and catalog.json of a run."""
        run_id = run["id"]
        results = self._run_results(run_id, build_steps)
        sources = None
        if run.get("has_sources_generated") or freshness_step:
            sources = self.artifact(run_id, "sources.json", step=freshness_step, required=False)
        catalog = None
        if run.get("has_docs_generated"):
            catalog = self.artifact(run_id, "catalog.json", step=None, required=False)
        return ({"results": results} if results else None), sources, catalog

    def _parse_run(
        self,
        run: dict,
        job: DbtJobRecord,
        manifest: IO[bytes],
        build_steps: list,
        freshness_step: int | None,
    ):
        results, sources, catalog = self._documents(run, build_steps, freshness_step)
        project_id = job.project_id
        return parse_artifacts_from_files(
            manifest_path=manifest,
            run_results=results,
            sources=sources,
            catalog=catalog,
            provenance=self._provenance(run, job),
            project_id=project_id,
            explore_url=lambda uid: (
                f"{self.base}/explore/{self.account}/projects/{project_id}"
                f"/environments/production/details/{uid}"
            ),
        )


def walk(
    client: DbtCloudClient, config: dict[str, Any], *, reporter: Reporter, state: dict
) -> Iterator:
    """Live jobs, their newest finished runs, and the artifacts of runs not ingested
    before; of the runs that finished between two syncs, their tests' results. Inactive
    jobs (no trigger, no recent run) are left out with one summary warning, unless the
    integration names them."""
    account = AccountWalk(client, config, reporter)
    client.account()
    projects = account.projects()
    environments = account.environments(projects)
    # Each job's most recent completed run comes with the list: a job with no trigger and
    # no recent run is known inactive without a runs call of its own.
    jobs = [
        job
        for job in client.paginate(
            f"v2/accounts/{client.account_id}/jobs/", {"include_related": HINT}
        )
        if account.wanted(job, environments.get(job.get("environment_id")))
    ]
    if not jobs:
        reporter.warning(
            "No deployment job matches this integration's settings: nothing to read. "
            "CI jobs and development environments are left out unless enabled."
        )
    ingested: dict[str, int] = dict((state or {}).get("ingested_runs") or {})
    window = settings.DBT_CLOUD_ACTIVE_WINDOW_DAYS
    found = RunFinder(
        client,
        since=datetime.now(UTC) - timedelta(days=window),
        limit=RUNS_PER_JOB_LOOKED_AT,
        ingested=ingested,
        explicit=account.ids("job_ids"),
    ).find(jobs)
    live = [job for job in jobs if found[job["id"]].read]
    inactive = [job.get("name") or f"Job {job['id']}" for job in jobs if not found[job["id"]].read]
    if inactive:
        reporter.warning(inactive_summary(inactive, window))
    whole, definitions_at = manifests_to_read(live, found, ingested, state)
    reporter.progress(0, len(live))
    for done, job in enumerate(live, start=1):
        job_runs = found[job["id"]]
        record = account.job_record(
            job, projects, environments, state=job_runs.state, triggers=job_runs.triggers
        )
        yield record
        runs = job_runs.runs
        if not runs:
            reporter.warning(f"Job “{record.name}” has no finished run with artifacts yet.")
        else:
            newest, last_read = runs[0], ingested.get(str(job["id"]))
            yield account.run_record(newest)
            if last_read != newest["id"]:
                for run in account.runs_since(runs, last_read, record):
                    yield account.run_record(run)
                    yield account.read_test_outcomes(run, record)
                if newest["id"] in whole:
                    yield from account.read_run(newest, record)
                else:
                    yield account.read_run_facts(newest, record)
                ingested[str(job["id"])] = newest["id"]
        reporter.progress(done, len(live))
    yield SyncState({"ingested_runs": ingested, "definitions_at": definitions_at})


def manifests_to_read(
    live: list[dict], found: dict, ingested: dict, state: dict | None
) -> tuple[set[int], dict[str, str]]:
    """Which new runs are read with their manifest: per project, only the one that finished
    last, and only if it is newer than the manifest the catalog has (`definitions_at`). A
    manifest is the project's whole definition, written by every command; the other runs
    give only what they did. Returns those run ids and the projects' new `definitions_at`
    (kept for projects with a live job only, so a project read again is defined again)."""
    before = dict((state or {}).get("definitions_at") or {})
    projects = {str(job.get("project_id")) for job in live}
    definitions_at = {p: at for p, at in before.items() if p in projects}
    newest: dict[str, dict] = {}
    for job in live:
        runs = found[job["id"]].runs
        if not runs or runs[0]["id"] == ingested.get(str(job["id"])):
            continue
        project, run = str(job.get("project_id")), runs[0]
        if project not in newest or _finished(run) > _finished(newest[project]):
            newest[project] = run
    whole = set()
    for project, run in newest.items():
        known = parse_time(definitions_at.get(project))
        if known is None or _finished(run) > known:
            whole.add(run["id"])
            definitions_at[project] = run["finished_at"]
    return whole, definitions_at


def _finished(run: dict) -> datetime:
    return parse_time(run.get("finished_at")) or datetime.min.replace(tzinfo=UTC)
