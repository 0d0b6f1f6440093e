"""Applying what dbt Cloud told us: jobs, runs and the artifacts of new runs are stored,
then everything derived from them (which table each node is, descriptions, tags and
owners on tables and columns, lineage, what tests and exposures point at) is worked out
again from the stored state and written where it changed. One transaction; bulk writes;
nothing written when nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.connectors.dbt_records import (
    DbtArtifacts,
    DbtJobRecord,
    DbtRunRecord,
    DbtTestOutcomes,
    SyncState,
)

from ...models import DbtExposure, DbtGroup, DbtJob, DbtNode, DbtRun, DbtTerm, DbtTest
from . import definitions, history, job_facts
from .derive import derive
from .upsert import EARLIEST, Counts, jsonable, upsert


@transaction.atomic
def dbt_apply(
    *,
    integration,
    run,
    records: Iterable,
    warn: Callable[[str], None] | None = None,
    **_: Any,
) -> dict[str, dict[str, int]]:
    """Apply one dbt Cloud sync's records to the catalog.

    The runs' artifacts are let go of once stored: what is derived afterwards is read back
    from the catalog. A caller that hands the records over (an iterator that keeps none of
    them, as `sync_execute` does) lets their memory go too.
    """
    type(integration).objects.select_for_update().filter(pk=integration.pk).first()
    warn = warn or (lambda _m: None)
    job_records, run_records, artifacts, outcomes, state = _sorted_out(records)
    counts = Counts()
    jobs, dropped_jobs = _jobs(integration, job_records, counts)
    runs = _runs(integration, run_records, jobs, counts)
    touched, write_tests, tests_read = _ingest(
        integration, artifacts, outcomes, jobs, runs, counts, warn
    )
    del artifacts, outcomes
    if dropped_jobs:
        touched |= job_facts.drop(integration, job_ids=dropped_jobs)
        _orphaned_projects(integration, counts)
    job_facts.show(integration, touched, counts)
    derive(integration, counts, write_tests)
    del write_tests
    if tests_read:
        history.record(tests_read, _live_tests(integration), counts)
    if state is not None:
        state = _forget_jobs_not_read(state, jobs)
    if state is not None and state != integration.sync_state:
        integration.sync_state = state
        type(integration).objects.filter(pk=integration.pk).update(sync_state=state)
    return counts.kinds


def _forget_jobs_not_read(state: dict, jobs: dict) -> dict:
    """A job not read now lost its facts: should it be read again, its newest run is read
    whole again, even if it was ingested before."""
    ingested = state.get("ingested_runs")
    if not isinstance(ingested, dict):
        return state
    return {**state, "ingested_runs": {k: v for k, v in ingested.items() if int(k) in jobs}}


def _ingest(
    integration, artifacts, outcomes, jobs, runs, counts: Counts, warn
) -> tuple[set[str], Callable | None, dict]:
    """Store what the runs read now say, emptying `artifacts` and `outcomes` once read.
    Returns the unique_ids whose shown facts may change and were not written with their
    definitions, the writer of the manifests' tests (`definitions.store`), and the test
    outcomes read, for the history."""
    if not artifacts and not outcomes:
        return set(), None, {}
    for a in artifacts:
        for message in a.warnings:
            warn(message)
    newest = definitions.newest_manifests(artifacts)
    touched = job_facts.drop(integration, unique_ids=definitions.removed_now(integration, newest))
    constraints = history.constraint_checks(integration, newest)
    tests = history.outcomes_read(artifacts, outcomes, jobs, runs, constraints)
    filed = job_facts.store(
        integration, job_facts.observed_facts(artifacts, tests, jobs, runs), counts
    )
    touched |= filed.touched
    # A definition is written with the facts it shows, so a new node is written once.
    declared = definitions.declared_ids(newest)
    facts = job_facts.current(integration, touched | declared, filed)
    del filed
    values = definitions.values_of(newest, jobs, runs, facts, warn)
    read = [a.provenance.run_id for a in [*artifacts, *outcomes]]
    # The records are let go of before the writes, which hold payloads of their own.
    del facts
    newest.clear()
    artifacts.clear()
    outcomes.clear()
    write_tests = definitions.store(integration, values, counts)
    del values
    DbtRun.objects.filter(pk__in=[runs[r] for r in read if r in runs]).update(
        ingested_at=timezone.now()
    )
    return touched - declared, write_tests, tests


def _live_tests(integration) -> dict[str, int]:
    return dict(
        DbtTest.objects.filter(integration=integration, removed=False).values_list(
            "unique_id", "id"
        )
    )


def _sorted_out(records: Iterable) -> tuple[list, list, list, list, dict | None]:
    """Jobs, runs, artifacts and test outcomes (the oldest run's first), the sync state."""
    jobs, runs, artifacts, outcomes, state = [], [], [], [], None
    for record in records:
        if isinstance(record, DbtJobRecord):
            jobs.append(record)
        elif isinstance(record, DbtRunRecord):
            runs.append(record)
        elif isinstance(record, DbtArtifacts):
            artifacts.append(record)
        elif isinstance(record, DbtTestOutcomes):
            outcomes.append(record)
        elif isinstance(record, SyncState):
            state = record.data
    for found in (artifacts, outcomes):
        found.sort(key=lambda r: r.provenance.finished_at or EARLIEST)
    return jobs, runs, artifacts, outcomes, state


def _jobs(integration, records: list[DbtJobRecord], counts: Counts) -> tuple[dict, list[int]]:
    """The jobs read now, live; the others (excluded, inactive, deleted) stop being live.
    Their ids by dbt id, and the jobs that stopped being live now."""
    desired = {r.dbt_id: {k: v for k, v in jsonable(r).items() if k != "dbt_id"} for r in records}
    was_live = set(
        DbtJob.objects.filter(integration=integration, removed=False).values_list("pk", flat=True)
    )
    read = list(desired)
    ids = upsert(
        DbtJob,
        integration=integration,
        desired=desired,
        key="dbt_id",
        counts=counts,
        kind="job",
        removable=lambda row: True,
    )
    live = {ids[dbt_id] for dbt_id in read}
    return {dbt_id: ids[dbt_id] for dbt_id in read}, sorted(was_live - live)


def _runs(integration, records: list[DbtRunRecord], jobs: dict, counts: Counts) -> dict[int, int]:
    desired = {}
    for r in records:
        if r.job_id not in jobs:
            continue
        values = {k: v for k, v in jsonable(r).items() if k not in ("dbt_id", "job_id")}
        values["status"] = r.status
        values["job_id"] = jobs[r.job_id]
        desired[r.dbt_id] = values
    read = list(desired)
    ids = upsert(
        DbtRun, integration=integration, desired=desired, key="dbt_id", counts=counts, kind="run"
    )
    return {dbt_id: ids[dbt_id] for dbt_id in read}


def _orphaned_projects(integration, counts: Counts) -> None:
    """A project no live job reads any more is no longer known: its objects are removed."""
    live = set(
        DbtJob.objects.filter(integration=integration, removed=False).values_list(
            "project_id", flat=True
        )
    )
    for model, kind in (
        (DbtNode, "node"),
        (DbtTest, "test"),
        (DbtExposure, "exposure"),
        (DbtTerm, "term"),
        (DbtGroup, "group"),
    ):
        n = (
            model.objects.filter(integration=integration, removed=False)
            .exclude(project_id__in=live)
            .update(removed=True, updated_at=timezone.now())
        )
        counts.add(kind, "removed", n)
