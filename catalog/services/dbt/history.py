"""A test's history: one row per change of its outcome, in execution order across every
run read, whichever job ran it.

The runs of one sync come from several jobs whose runs interleave, and a job newly read
can bring runs older than what is stored: the new outcomes are merged with the stored
rows and the whole sequence collapsed again (a row survives only where the outcome
differs from the one before it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.connectors.dbt_records import constraint_message

from ...models import DbtTest, DbtTestResult
from ..bulk import insert_rows
from .upsert import EARLIEST, Counts


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: int | None
    run_id: int | None
    finished_at: datetime | None  # the run's
    executed_at: datetime | None
    status: str
    failures: int | None
    message: str
    row_id: int | None = None  # a stored history row

    def when(self) -> tuple:
        # Runs in the order they finished (dbt Cloud's order of runs, across jobs), then
        # the tests' own times within a run.
        return (
            self.finished_at or self.executed_at or EARLIEST,
            self.executed_at or EARLIEST,
            self.run_id or 0,
        )

    def same(self, other: Outcome) -> bool:
        return (self.status, self.failures, self.message) == (
            other.status,
            other.failures,
            other.message,
        )


# An enforced constraint's result, from its model's build result.
CONSTRAINT_STATUS = {"success": "pass", "error": "error", "skipped": "skipped"}


def constraint_checks(integration, newest: dict) -> dict[str, list[tuple[str, str, str]]]:
    """Per model, its enforced constraints: (unique_id, description, the model's name), as
    the manifests read now declare them (`definitions.newest_manifests`), and as stored for
    the other projects."""
    found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for a in newest.values():
        names = {n.unique_id: n.name for n in a.nodes}
        for t in a.tests:
            if t.test_type == "constraint" and t.enforced:
                model = names.get(t.attached_node, "")
                found[t.attached_node].append((t.unique_id, t.description, model))
    for uid, node, description, model in (
        DbtTest.objects.filter(
            integration=integration, test_type="constraint", enforced=True, removed=False
        )
        .exclude(project_id__in=list(newest))
        .values_list("unique_id", "attached_node", "description", "node__name")
    ):
        found[node].append((uid, description, model or ""))
    return found


def constraint_results(node, constraints: dict) -> Iterable[tuple[str, dict[str, Any]]]:
    """(constraint unique_id, outcome values) for a node a run built: the run's own build
    result, in words that say so (a run read without its manifest names no model)."""
    status = CONSTRAINT_STATUS.get(node.execution_status, "")
    if not status:
        return
    for uid, description, model in constraints.get(node.unique_id, ()):
        message = constraint_message(
            description, model=model or node.name, build_status=node.execution_status
        )
        yield uid, {"status": status, "failures": None, "message": message}


def outcomes_read(
    artifacts, outcomes, jobs: dict, runs: dict, constraints: dict | None = None
) -> dict[str, list[Outcome]]:
    """Every test outcome of the runs read now, by unique_id (an enforced constraint's is
    its model's build result)."""
    found: dict[str, list[Outcome]] = defaultdict(list)

    def add(provenance, uid, status, failures, message, executed_at) -> None:
        found[uid].append(
            Outcome(
                job_id=jobs.get(provenance.job_id),
                run_id=runs.get(provenance.run_id),
                finished_at=provenance.finished_at,
                executed_at=executed_at,
                status=status,
                failures=failures,
                message=message,
            )
        )

    for a in artifacts:
        for t in a.tests:
            if t.executed:
                add(a.provenance, t.unique_id, t.status, t.failures, t.message, t.executed_at)
        for n in a.nodes:
            if n.executed:
                for uid, v in constraint_results(n, constraints or {}):
                    add(a.provenance, uid, v["status"], None, v["message"], n.executed_at)
    for o in outcomes:
        for t in o.outcomes:
            if t.status:
                add(o.provenance, t.unique_id, t.status, t.failures, t.message, t.executed_at)
    return found


def record(read: dict[str, list[Outcome]], test_ids: dict[str, int], counts: Counts) -> None:
    """Merge the outcomes read into the tests' stored history."""
    read = {uid: found for uid, found in read.items() if uid in test_ids}
    if not read:
        return
    stored: dict[int, list[Outcome]] = defaultdict(list)
    for row in (
        DbtTestResult.objects.filter(test_id__in=[test_ids[uid] for uid in read])
        .order_by()
        .values(
            "id",
            "test_id",
            "job_id",
            "run_id",
            "run__finished_at",
            "status",
            "failures",
            "message",
            "executed_at",
        )
    ):
        stored[row["test_id"]].append(
            Outcome(
                job_id=row["job_id"],
                run_id=row["run_id"],
                finished_at=row["run__finished_at"],
                executed_at=row["executed_at"],
                status=row["status"],
                failures=row["failures"],
                message=row["message"],
                row_id=row["id"],
            )
        )
    to_create, to_delete = [], []
    for uid, found in read.items():
        test_id = test_ids[uid]
        rows = stored.get(test_id, [])
        recorded_runs = {o.run_id for o in rows if o.run_id is not None}
        fresh = [o for o in found if o.run_id is None or o.run_id not in recorded_runs]
        if not fresh:
            continue  # runs already in the history: read again, nothing new
        last = None
        for o in sorted([*rows, *fresh], key=Outcome.when):
            if last is not None and last.same(o):
                if o.row_id is not None:
                    to_delete.append(o.row_id)  # an older outcome now sits before it
                continue
            if o.row_id is None:
                to_create.append(
                    {
                        "test_id": test_id,
                        "job_id": o.job_id,
                        "run_id": o.run_id,
                        "status": o.status,
                        "failures": o.failures,
                        "message": o.message,
                        "executed_at": o.executed_at or o.finished_at,
                    }
                )
            last = o
    insert_rows(DbtTestResult, to_create)
    if to_delete:
        DbtTestResult.objects.filter(pk__in=to_delete).delete()
    counts.add("test_result", "created", len(to_create))
    counts.add("test_result", "removed", len(to_delete))
