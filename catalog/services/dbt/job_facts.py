"""Facts by kind, each from the run that produced it.

A run says something about a node only where its artifacts carry it: a result in
run_results.json (built or tested), compiled code, an entry in catalog.json or in
sources.json. Each live job keeps, per node and kind, what its newest run carrying that
kind said (`DbtJobFact`); the catalog shows the newest of those across jobs. A newer run
that is silent about a node changes nothing, and a job that is dropped takes only its own
facts with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

from django.db.models import Q

from ...models import DbtJobFact, DbtNode, DbtTest
from ..bulk import bulk_update_rows, insert_rows
from .upsert import EARLIEST, Counts, jsonable

EXECUTION, COMPILED, CATALOG, FRESHNESS, TEST = (
    DbtJobFact.Kind.EXECUTION.value,
    DbtJobFact.Kind.COMPILED.value,
    DbtJobFact.Kind.CATALOG.value,
    DbtJobFact.Kind.FRESHNESS.value,
    DbtJobFact.Kind.TEST.value,
)
NODE_KINDS = (EXECUTION, COMPILED, CATALOG, FRESHNESS)

# The catalog's fields for each kind: (field, key in the fact's values, default).
NODE_FIELDS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    EXECUTION: (
        ("execution_status", "status", ""),
        ("executed_at", "@executed_at", None),
        ("execution_time", "execution_time", None),
        ("execution_message", "message", ""),
        ("adapter_response", "adapter_response", {}),
    ),
    COMPILED: (("compiled_code", "compiled_code", ""),),
    CATALOG: (("catalog_columns", "columns", []),),
    FRESHNESS: (
        ("freshness_status", "status", ""),
        ("freshness_max_loaded_at", "max_loaded_at", None),
        ("freshness_snapshotted_at", "snapshotted_at", None),
        ("freshness_age_seconds", "age_seconds", None),
        ("freshness_criteria", "criteria", {}),
        ("freshness_error", "error", ""),
    ),
}
TEST_FIELDS = (
    ("status", "status", ""),
    ("failures", "failures", None),
    ("message", "message", ""),
    ("executed_at", "@executed_at", None),
)
PROVENANCE_PREFIX = {
    EXECUTION: "execution",
    COMPILED: "compiled",
    CATALOG: "catalog",
    FRESHNESS: "freshness",
    TEST: "result",
}
DATETIME_VALUES = {"max_loaded_at", "snapshotted_at"}
UID_LIMIT = DbtJobFact._meta.get_field("unique_id").max_length


@dataclass(frozen=True, slots=True)
class Observed:
    """What one run said about one node or test, for one kind of fact."""

    job_id: int  # the catalog's DbtJob
    run_id: int | None  # the catalog's DbtRun
    finished_at: datetime | None  # the run's
    executed_at: datetime | None  # the node's or test's, when the artifact says
    values: dict[str, Any]

    def order(self) -> tuple:
        return (self.finished_at or EARLIEST, self.executed_at or EARLIEST, self.run_id or 0)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def observed_facts(
    artifacts, tests: dict[str, list], jobs: dict, runs: dict
) -> dict[tuple, Observed]:
    """(job, kind, unique_id) -> the newest run's word on it, among the runs read now.
    `tests`: every test outcome read now (history.outcomes_read), each with its job and run."""
    found: dict[tuple, Observed] = {}

    def keep(kind: str, uid: str, fact: Observed) -> None:
        if len(uid) > UID_LIMIT:  # its object is not stored either (definitions._fits)
            return
        key = (fact.job_id, kind, uid)
        if key not in found or found[key].order() <= fact.order():
            found[key] = fact

    def put(provenance, kind: str, uid: str, executed_at, values: dict) -> None:
        job = jobs.get(provenance.job_id)
        if job is None:  # a run of a job this sync did not list: nothing to file it under
            return
        keep(
            kind,
            uid,
            Observed(job, runs.get(provenance.run_id), provenance.finished_at, executed_at, values),
        )

    for a in artifacts:
        p = a.provenance
        for n in a.nodes:
            if n.executed:
                put(
                    p,
                    EXECUTION,
                    n.unique_id,
                    n.executed_at,
                    {
                        "status": n.execution_status,
                        "execution_time": n.execution_time,
                        "message": n.execution_message,
                        "adapter_response": jsonable(n.adapter_response),
                        "resource_type": n.resource_type,
                    },
                )
            if n.compiled:
                put(p, COMPILED, n.unique_id, None, {"compiled_code": n.compiled_code})
            if n.catalogued:
                put(p, CATALOG, n.unique_id, None, {"columns": jsonable(n.catalog_columns)})
            if n.freshness is not None:
                f = n.freshness
                put(
                    p,
                    FRESHNESS,
                    n.unique_id,
                    f.snapshotted_at,
                    {
                        "status": f.status,
                        "max_loaded_at": _iso(f.max_loaded_at),
                        "snapshotted_at": _iso(f.snapshotted_at),
                        "age_seconds": f.age_seconds,
                        "criteria": jsonable(f.criteria),
                        "error": f.error,
                    },
                )
        for t in a.tests:
            if t.compiled_code:
                put(p, COMPILED, t.unique_id, None, {"compiled_code": t.compiled_code})
    for uid, outcomes in tests.items():
        for o in outcomes:
            if o.job_id is not None:
                values = {"status": o.status, "failures": o.failures, "message": o.message}
                keep(TEST, uid, Observed(o.job_id, o.run_id, o.finished_at, o.executed_at, values))
    return found


@dataclass
class Filed:
    """What `store` left stored for the jobs it filed facts under: every fact of those jobs,
    by (job, kind, unique_id), as `current` reads them, so that it need not read them back."""

    touched: set[str] = field(default_factory=set)  # unique_ids whose facts changed
    jobs: set[int] = field(default_factory=set)
    rows: dict[tuple, dict] = field(default_factory=dict)


FACT_COLUMNS = ("job_id", "kind", "unique_id", "run_id", "finished_at", "executed_at", "values")


def store(integration, observed: dict[tuple, Observed], counts: Counts) -> Filed:
    """File what the runs read now said under their jobs, where it is newer than what each
    job said before."""
    if not observed:
        return Filed()
    job_ids = {job for job, _kind, _uid in observed}
    existing = {
        (row["job_id"], row["kind"], row["unique_id"]): row
        for row in DbtJobFact.objects.filter(integration=integration, job_id__in=job_ids)
        .order_by()
        .values("id", *FACT_COLUMNS)
    }
    to_create, to_update, touched = [], [], set()
    for key, fact in observed.items():
        job, kind, uid = key
        wanted = {
            "run_id": fact.run_id,
            "finished_at": fact.finished_at,
            "executed_at": fact.executed_at,
            "values": fact.values,
        }
        row = existing.get(key)
        if row is None:
            to_create.append(
                {
                    "integration_id": integration.pk,
                    "job_id": job,
                    "kind": kind,
                    "unique_id": uid,
                    **wanted,
                }
            )
            existing[key] = to_create[-1]
        elif (row["finished_at"] or EARLIEST) > (fact.finished_at or EARLIEST):
            continue  # this job's newer run said it already
        elif any(row[name] != value for name, value in wanted.items()):
            to_update.append({"id": row["id"], **wanted})
            row.update(wanted)
        else:
            continue
        touched.add(uid)
    insert_rows(DbtJobFact, to_create)
    bulk_update_rows(DbtJobFact, to_update, ["run_id", "finished_at", "executed_at", "values"])
    counts.add("job_fact", "created", len(to_create))
    counts.add("job_fact", "updated", len(to_update))
    return Filed(touched, job_ids, existing)


def drop(integration, *, unique_ids: Iterable[str] = (), job_ids: Iterable[int] = ()) -> set[str]:
    """Forget the facts of nodes and tests that left their project, and every fact of jobs
    no longer read; the unique_ids that lost a fact."""
    unique_ids, job_ids = list(unique_ids), list(job_ids)
    if not unique_ids and not job_ids:
        return set()
    which = DbtJobFact.objects.filter(integration=integration).filter(
        Q(unique_id__in=unique_ids) | Q(job_id__in=job_ids)
    )
    lost = set(which.values_list("unique_id", flat=True))
    which.delete()
    return lost


def current(
    integration, unique_ids: set[str], filed: Filed | None = None
) -> dict[tuple[str, str], dict]:
    """(kind, unique_id) -> the newest fact of that kind across the live jobs; the jobs
    `filed` holds are taken from it, not read again."""
    if not unique_ids:
        return {}
    filed = filed or Filed()
    best: dict[tuple[str, str], dict] = {}
    rows = (
        DbtJobFact.objects.filter(
            integration=integration, unique_id__in=list(unique_ids), job__removed=False
        )
        .exclude(job_id__in=list(filed.jobs))
        .order_by()
        .values(*FACT_COLUMNS)
    )
    held = (row for row in filed.rows.values() if row["unique_id"] in unique_ids)
    for row in chain(rows, held):
        key = (row["kind"], row["unique_id"])
        order = (row["finished_at"] or EARLIEST, row["executed_at"] or EARLIEST, row["job_id"])
        if key not in best or best[key]["_order"] < order:
            best[key] = {**row, "_order": order}
    return best


def _fields(kind: str, fact: dict | None, spec) -> dict[str, Any]:
    prefix = PROVENANCE_PREFIX[kind]
    values = (fact or {}).get("values") or {}
    out: dict[str, Any] = {}
    for name, source, default in spec:
        if source == "@executed_at":
            value = fact["executed_at"] if fact else None
        else:
            value = values.get(source, default) if fact else default
            if source in DATETIME_VALUES and value:
                value = datetime.fromisoformat(value)
        out[name] = default if value is None and default is not None else value
    out[f"{prefix}_job_id"] = fact["job_id"] if fact else None
    out[f"{prefix}_run_id"] = fact["run_id"] if fact else None
    out[f"{prefix}_finished_at"] = fact["finished_at"] if fact else None
    return out


def node_fields(facts: dict, uid: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in NODE_KINDS:
        out.update(_fields(kind, facts.get((kind, uid)), NODE_FIELDS[kind]))
    return out


def test_fields(facts: dict, uid: str) -> dict[str, Any]:
    compiled = facts.get((COMPILED, uid))
    return {
        **_fields(TEST, facts.get((TEST, uid)), TEST_FIELDS),
        "compiled_code": (compiled["values"].get("compiled_code") or "") if compiled else "",
    }


def show(integration, unique_ids: set[str], counts: Counts) -> None:
    """Put the newest fact of each kind on the nodes and tests named (blank where no live
    job has one), writing only rows that change."""
    if not unique_ids:
        return
    facts = current(integration, unique_ids)
    for model, fields_of, kind in ((DbtNode, node_fields, "node"), (DbtTest, test_fields, "test")):
        names = list(fields_of({}, ""))
        changed = []
        for row in (
            model.objects.filter(integration=integration, unique_id__in=list(unique_ids))
            .order_by()
            .values("id", "unique_id", *names)
        ):
            wanted = fields_of(facts, row["unique_id"])
            if any(row[name] != value for name, value in wanted.items()):
                changed.append({"id": row["id"], **wanted})
        bulk_update_rows(model, changed, names)
        counts.add(f"{kind}_fact", "updated", len(changed))


def built_by(integration) -> set[tuple[int, str]]:
    """(job, unique_id) for each live job whose runs built the model, seed or snapshot."""
    return {
        (job, uid)
        for job, uid, values in DbtJobFact.objects.filter(
            integration=integration, kind=EXECUTION, job__removed=False
        )
        .order_by()
        .values_list("job_id", "unique_id", "values__resource_type")
        if values in ("model", "seed", "snapshot")
    }
