"""The real jaffle_shop artifacts, parsed as one dbt Cloud run would deliver them."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from integrations.connectors.dbt_artifacts import parse_artifacts, test_outcomes
from integrations.connectors.dbt_records import (
    DbtArtifacts,
    DbtJobRecord,
    DbtRunRecord,
    DbtTestOutcomes,
    Provenance,
    SyncState,
)

JAFFLE = Path(__file__).resolve().parent.parent / "fixtures" / "jaffle_shop"
TUVA = Path(__file__).resolve().parent.parent / "fixtures" / "tuva-manifest.json.gz"
PROJECT_ID = 70000000000310


@cache
def _load(name: str) -> dict:
    return json.loads((JAFFLE / name).read_text())


def artifact(name: str) -> dict:
    """A fresh copy of a fixture artifact, safe to change in a test."""
    return copy.deepcopy(_load(name))


@cache
def tuva_manifest() -> dict:
    with gzip.open(TUVA, "rt") as handle:
        return json.load(handle)


def finished(hour: int) -> datetime:
    return datetime(2026, 11, 27, hour, 0, tzinfo=UTC)


def job(job_id: int = 4021, name: str = "Prod nightly") -> DbtJobRecord:
    return DbtJobRecord(
        dbt_id=job_id,
        name=name,
        project_id=PROJECT_ID,
        project_name="jaffle_shop",
        environment_id=555,
        environment_name="Production",
        environment_type="deployment",
        deployment_type="production",
        job_type="scheduled",
        schedule_cron="0 5 * * *",
        generate_docs=True,
        run_generate_sources=True,
        execute_steps=("dbt build",),
        url=f"https://ab123.us1.dbt.com/deploy/1/projects/{PROJECT_ID}/jobs/{job_id}",
    )


def run(run_id: int, job_id: int = 4021, hour: int = 5, status: int = 20) -> DbtRunRecord:
    return DbtRunRecord(
        dbt_id=run_id,
        job_id=job_id,
        status_code=status,
        started_at=finished(hour - 1),
        finished_at=finished(hour),
        duration_seconds=3600.0,
        url=f"https://ab123.us1.dbt.com/runs/{run_id}/",
        trigger_cause="scheduled",
        git_sha="4be1c0f2",
        git_branch="main",
        has_docs_generated=True,
        has_sources_generated=True,
    )


def artifacts(
    run_id: int,
    job_id: int = 4021,
    hour: int = 5,
    *,
    manifest=None,
    run_results=None,
    sources=None,
    catalog=None,
) -> DbtArtifacts:
    return parse_artifacts(
        manifest=manifest or artifact("manifest.json"),
        run_results=run_results if run_results is not None else artifact("run_results.json"),
        sources=sources if sources is not None else artifact("sources.json"),
        catalog=catalog if catalog is not None else artifact("catalog.json"),
        provenance=Provenance(job_id=job_id, run_id=run_id, finished_at=finished(hour)),
        project_id=PROJECT_ID,
        explore_url=lambda uid: (
            f"https://ab123.us1.dbt.com/explore/1/projects/{PROJECT_ID}/environments/production/details/{uid}"
        ),
    )


def one_run(run_id: int = 9001, job_id: int = 4021, hour: int = 5, **kwargs) -> list:
    """The records of a sync that found one new run of one job."""
    return [
        job(job_id),
        run(run_id, job_id, hour),
        artifacts(run_id, job_id, hour, **kwargs),
        SyncState({"ingested_runs": {str(job_id): run_id}}),
    ]


def outcomes(run_id: int, job_id: int = 4021, hour: int = 5, run_results=None) -> DbtTestOutcomes:
    """The test results of a run between two syncs, as the connector reads them."""
    return DbtTestOutcomes(
        provenance=Provenance(job_id=job_id, run_id=run_id, finished_at=finished(hour)),
        outcomes=test_outcomes(run_results or artifact("run_results.json")),
    )
