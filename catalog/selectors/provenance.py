"""Where each kind of dbt fact came from (job, run, time), and which live jobs build a table.

Shared by the table page, the read API and `catalog_export`, so that all three tell the same
story: a node's definition, build result, compiled code, catalog columns and freshness, and a
test's result, each name the run (and its job) that produced them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, Subquery

from ..models import DbtJob, DbtJobFact, DbtNode, DbtRun, DbtTest, Table

# What a run builds: a table made by `dbt run`, `dbt seed` or `dbt snapshot`. A test result
# or a source's freshness check is not a build.
BUILT_TYPES = ("model", "seed", "snapshot")

# The related fields a page must select to show every kind's provenance without more queries.
NODE_KINDS = {
    "definition": ("job", "run", "fact_finished_at"),
    "execution": ("execution_job", "execution_run", "execution_finished_at"),
    "compiled": ("compiled_job", "compiled_run", "compiled_finished_at"),
    "catalog": ("catalog_job", "catalog_run", "catalog_finished_at"),
    "freshness": ("freshness_job", "freshness_run", "freshness_finished_at"),
}
TEST_KINDS = {
    "definition": ("job", "run", "fact_finished_at"),
    "result": ("result_job", "result_run", "result_finished_at"),
}
NODE_RELATED = tuple(f for job, run, _ in NODE_KINDS.values() for f in (job, run))
TEST_RELATED = tuple(f for job, run, _ in TEST_KINDS.values() for f in (job, run))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class Provenance:
    """The run (and its job) that said a fact, and when that run finished."""

    job: DbtJob | None
    run: DbtRun | None
    finished_at: datetime | None

    def __bool__(self) -> bool:
        return bool(self.job or self.run or self.finished_at)

    def as_json(self) -> dict[str, Any] | None:
        """{job: {id, name}, run: {id, url}, finished_at}, ids as dbt Cloud numbers them;
        None when no run read has said this fact."""
        if not self:
            return None
        return {
            "job": {"id": self.job.dbt_id, "name": self.job.name} if self.job else None,
            "run": {"id": self.run.dbt_id, "url": self.run.url} if self.run else None,
            "finished_at": _iso(self.finished_at or (self.run.finished_at if self.run else None)),
        }


def _provenance(obj, fields: tuple[str, str, str], jobs=None, runs=None) -> Provenance:
    job_field, run_field, at_field = fields
    if jobs is None:  # the related rows were selected with the object
        job, run = getattr(obj, job_field), getattr(obj, run_field)
    else:
        job, run = (
            jobs.get(getattr(obj, f"{job_field}_id")),
            runs.get(getattr(obj, f"{run_field}_id")),
        )
    return Provenance(job=job, run=run, finished_at=getattr(obj, at_field))


def node_provenance(
    node: DbtNode, jobs=None, runs=None, *, kinds: Iterable[str] = tuple(NODE_KINDS)
) -> dict[str, Provenance]:
    """Per kind of fact (definition, execution, compiled, catalog, freshness). Without `jobs`
    and `runs` (dicts by pk), the node must come with those kinds' job and run selected
    (NODE_RELATED for all)."""
    return {kind: _provenance(node, NODE_KINDS[kind], jobs, runs) for kind in kinds}


def test_provenance(test: DbtTest, jobs=None, runs=None) -> dict[str, Provenance]:
    """Definition and result; as node_provenance."""
    return {kind: _provenance(test, f, jobs, runs) for kind, f in TEST_KINDS.items()}


def node_identity(n: DbtNode) -> dict[str, Any]:
    """What a node is, as the read API and the export both open a node with."""
    return {
        "unique_id": n.unique_id,
        "resource_type": n.resource_type,
        "version": n.version or None,
        "latest_version": n.latest_version or None,
        "is_latest_version": bool(n.version) and n.version == n.latest_version,
        "url": n.url,
        "materialized": n.materialized,
        "access": n.access,
    }


def provenance_json(provenance: dict[str, Provenance]) -> dict[str, Any]:
    return {kind: p.as_json() for kind, p in provenance.items()}


@dataclass(frozen=True)
class Build:
    """A live job that built a table, with its newest build of it."""

    job: DbtJob
    run: DbtRun | None
    built_at: datetime | None
    table_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "job": {"id": self.job.dbt_id, "name": self.job.name, "url": self.job.url},
            "run": {"id": self.run.dbt_id, "url": self.run.url} if self.run else None,
            "last_built_at": _iso(self.built_at),
        }


def _built_facts(nodes: Q):
    """Execution facts of live jobs whose node is a model, seed or snapshot matched to a
    table, each with that table's id."""
    table_of = DbtNode.objects.filter(
        nodes,
        integration_id=OuterRef("integration_id"),
        unique_id=OuterRef("unique_id"),
        resource_type__in=BUILT_TYPES,
        removed=False,
        table__isnull=False,
    ).values("table_id")[:1]
    return (
        DbtJobFact.objects.filter(kind=DbtJobFact.Kind.EXECUTION, job__removed=False)
        .annotate(table_id=Subquery(table_of))
        .filter(table_id__isnull=False)
        .select_related("job", "run")
    )


def _newest_per(facts: Iterable[DbtJobFact], key) -> dict:
    newest: dict = {}
    for fact in facts:
        at = fact.executed_at or fact.finished_at
        k = key(fact)
        best = newest.get(k)
        if best is None or (at is not None and (best.built_at is None or at > best.built_at)):
            newest[k] = Build(job=fact.job, run=fact.run, built_at=at, table_id=fact.table_id)
    return newest


def _ordered(builds: Iterable[Build]) -> list[Build]:
    # Newest build first; never built (no time) last; then by name for a stable order.
    return sorted(
        builds,
        key=lambda b: (
            b.built_at is None,
            -(b.built_at.timestamp() if b.built_at else 0),
            b.job.name,
        ),
    )


def table_builds(*, table: Table) -> list[Build]:
    """The live jobs whose runs built this table, newest build first. One query."""
    facts = _built_facts(Q(table=table))
    return _ordered(_newest_per(facts, key=lambda f: f.job_id).values())


def builds_by_table(*, table_ids: Iterable[int]) -> dict[int, list[Build]]:
    """Per table id, the live jobs that built it, newest build first. One query."""
    facts = _built_facts(Q(table_id__in=list(table_ids)))
    newest = _newest_per(facts, key=lambda f: (f.table_id, f.job_id))
    by_table: dict[int, list[Build]] = {}
    for (table_id, _job_id), build in newest.items():
        by_table.setdefault(table_id, []).append(build)
    return {table_id: _ordered(builds) for table_id, builds in by_table.items()}


def job_builds(*, jobs: list[DbtJob]) -> dict[int, list[Build]]:
    """Per job (pk), the tables its runs built, newest build first. One query."""
    facts = _built_facts(Q()).filter(job__in=jobs)
    newest = _newest_per(facts, key=lambda f: (f.job_id, f.table_id))
    by_job: dict[int, list[Build]] = {}
    for (job_id, _table_id), build in newest.items():
        by_job.setdefault(job_id, []).append(build)
    return {job_id: _ordered(builds) for job_id, builds in by_job.items()}
