"""The jobs page: live dbt jobs, their runs and the tables they build. A fixed number of
queries whatever the number of jobs, runs or tables."""

from __future__ import annotations

from ..models import DbtJob, Table
from .provenance import job_builds


def live_jobs() -> list[DbtJob]:
    """Jobs the catalog still reads (not removed), each with `built`: (table, Build) for
    every table its runs built, newest build first."""
    jobs = list(DbtJob.objects.filter(removed=False).prefetch_related("runs").order_by("name"))
    builds = job_builds(jobs=jobs)
    tables = Table.objects.in_bulk({b.table_id for rows in builds.values() for b in rows})
    for job in jobs:
        job.built = [
            (tables[b.table_id], b) for b in builds.get(job.pk, []) if b.table_id in tables
        ]
    return jobs
