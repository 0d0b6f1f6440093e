"""Applying what dbt Cloud told us: jobs, runs and the artifacts of new runs are stored,
then everything derived from them (which table each node is, descriptions, tags and
owners on tables and columns, lineage, what tests and exposures point at) is worked out
again from the stored state and written where it changed. One transaction; bulk writes;
nothing written when nothing changed."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from integrations.connectors import all_entries
from integrations.connectors.base import WAREHOUSE
from integrations.connectors.dbt_records import (
    DbtArtifacts,
    DbtJobRecord,
    DbtRunRecord,
    DbtTestOutcomes,
    SyncState,
)

from ..descriptions import DescriptionCutter
from ..models import (
    Column,
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    DescriptionSource,
    Table,
    TableLineage,
)
from .bulk import bulk_update_rows
from .matching import TableIndex, match_columns

logger = logging.getLogger(__name__)

# Which node describes a table when several do (a seed and the source over it).
NODE_PRECEDENCE = {"model": 0, "snapshot": 1, "seed": 2, "source": 3}
DBT_MAY_WRITE = {DescriptionSource.NONE, DescriptionSource.DBT}
EARLIEST = datetime.min.replace(tzinfo=UTC)
# What dbt writes on catalog rows; an update sets them all, unchanged ones to what was read.
TABLE_DBT_FIELDS = (
    "description",
    "description_source",
    "tags",
    "tags_source",
    "owners",
    "owners_source",
)
COLUMN_DBT_FIELDS = ("description", "description_source", "tags", "tags_source")
MATCH_FIELDS = (
    "table_id",
    "match_status",
    "match_rule",
    "match_reason",
    "match_candidate",
    "missing_columns",
    "undocumented_columns",
)
NODE_FIELDS = (
    "id",
    "unique_id",
    "resource_type",
    "relation_name",
    "database",
    "schema",
    "identifier",
    "materialized",
    "description",
    "tags",
    "owner",
    "columns",
    "depends_on",
    "job_id",
    "execution_status",
    *MATCH_FIELDS,
)


def jsonable(value: Any) -> Any:
    """Tuples to lists, recursively, so values compare equal to what JSONFields load."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


@dataclass
class Counts:
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, what: str, n: int) -> None:
        if n:
            bucket = self.kinds.setdefault(kind, {"created": 0, "updated": 0, "removed": 0})
            bucket[what] = bucket.get(what, 0) + n


def upsert(
    model: type[models.Model],
    *,
    integration,
    desired: dict[Any, dict[str, Any]],
    key: str,
    counts: Counts,
    kind: str,
    skip: Callable[[dict, dict], bool] | None = None,
    removable: Callable[[dict], bool] | None = None,
) -> dict[Any, int]:
    """Make rows equal to `desired` (keyed by `key`), writing only differences.

    `skip(existing, wanted)` keeps an existing row as it is (a newer fact);
    `removable(existing)` says which rows missing from `desired` are flagged removed.
    Returns every row's id by key.
    """
    names = sorted({name for values in desired.values() for name in values})
    fields = ["id", key, *[n for n in names if n != key]]
    if removable is not None:
        fields.append("removed")
        fields += [f for f in ("project_id",) if f not in fields and _has(model, f)]
    existing = {
        row[key]: row
        for row in model.objects.filter(integration=integration)
        .order_by()
        .values(*dict.fromkeys(fields))
    }
    now = timezone.now()
    to_create, to_update, changed_names = [], [], set()
    for k, values in desired.items():
        values = {n: v for n, v in values.items() if n != key}
        row = existing.get(k)
        if row is None:
            to_create.append(model(integration=integration, **{key: k}, **values))
            continue
        if skip is not None and skip(row, values):
            continue
        changes = {n: v for n, v in values.items() if row.get(n) != v}
        if removable is not None and row.get("removed"):
            changes["removed"] = False
        if changes:
            row.update(changes)
            changed_names |= changes.keys()
            to_update.append(row)
    gone = []
    if removable is not None:
        gone = [
            row["id"]
            for k, row in existing.items()
            if k not in desired and not row["removed"] and removable(row)
        ]
    model.objects.bulk_create(to_create)
    if to_update:
        written = sorted(changed_names)
        for row in to_update:
            row["updated_at"] = now
        bulk_update_rows(model, to_update, [*written, "updated_at"])
    bulk_update_rows(
        model,
        [{"id": pk, "removed": True, "updated_at": now} for pk in gone],
        ["removed", "updated_at"],
    )
    counts.add(kind, "created", len(to_create))
    counts.add(kind, "updated", len(to_update))
    counts.add(kind, "removed", len(gone))
    ids = {k: row["id"] for k, row in existing.items()}
    ids.update({getattr(obj, key): obj.pk for obj in to_create})
    return ids


def _has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


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
    jobs = _jobs(integration, job_records, counts)
    runs = _runs(integration, run_records, jobs, counts)
    if artifacts:
        _ingest(integration, artifacts, outcomes, jobs, runs, counts, warn)
    del artifacts
    _derive(integration, counts)
    if state is not None and state != integration.sync_state:
        integration.sync_state = state
        type(integration).objects.filter(pk=integration.pk).update(sync_state=state)
    return counts.kinds


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
        found.sort(key=lambda r: _finished(r.provenance))
    return jobs, runs, artifacts, outcomes, state


def _finished(provenance) -> datetime:
    return provenance.finished_at or EARLIEST


# -- jobs and runs -------------------------------------------------------------------------


def _jobs(integration, records: list[DbtJobRecord], counts: Counts) -> dict[int, int]:
    desired = {
        r.dbt_id: jsonable({k: v for k, v in asdict(r).items() if k != "dbt_id"}) for r in records
    }
    return upsert(
        DbtJob, integration=integration, desired=desired, key="dbt_id", counts=counts, kind="job"
    )


def _runs(
    integration, records: list[DbtRunRecord], jobs: dict[int, int], counts: Counts
) -> dict[int, int]:
    desired = {}
    for r in records:
        values = {k: v for k, v in asdict(r).items() if k not in ("dbt_id", "job_id")}
        values["status"] = r.status
        values["job_id"] = jobs[r.job_id]
        desired[r.dbt_id] = values
    return upsert(
        DbtRun, integration=integration, desired=desired, key="dbt_id", counts=counts, kind="run"
    )


# -- ingesting new runs' artifacts -------------------------------------------------------


def _newer(existing: dict, wanted: dict) -> bool:
    """Keep an existing fact that a newer run produced."""
    have, incoming = existing.get("fact_finished_at"), wanted.get("fact_finished_at")
    return have is not None and incoming is not None and have > incoming


def _ingest(
    integration,
    artifacts: list[DbtArtifacts],
    outcomes: list[DbtTestOutcomes],
    jobs,
    runs,
    counts: Counts,
    warn,
) -> None:
    newest_by_project: dict[Any, DbtArtifacts] = {}
    for a in artifacts:
        newest_by_project[a.project_id] = a  # sorted oldest first: the last one wins
        for message in a.warnings:
            warn(message)
    projects = set(newest_by_project)

    def removable(row: dict) -> bool:
        return row.get("project_id") in projects

    # The newest manifest of a project says what exists in it; older runs still supply
    # facts (statuses) about what does.
    present = {p: a.present_ids() for p, a in newest_by_project.items()}
    groups_wanted, nodes_wanted, tests_wanted, exposures_wanted, terms_wanted = {}, {}, {}, {}, {}
    cut = _cutter(warn)
    for a in artifacts:
        alive = present[a.project_id]
        fact = _fact(a.provenance, jobs, runs, a.project_id)
        for g in a.groups:
            if g.unique_id in alive:
                values = jsonable({**asdict(g), "project_id": a.project_id})
                groups_wanted[g.unique_id] = cut(values, g.unique_id)
        for n in a.nodes:
            if n.unique_id in alive:
                nodes_wanted[n.unique_id] = cut({**_node_values(n), **fact}, n.unique_id)
        for t in a.tests:
            if t.unique_id in alive:
                values = jsonable({k: v for k, v in asdict(t).items() if k != "provenance"})
                tests_wanted[t.unique_id] = cut({**values, **fact}, t.unique_id)
        for e in a.exposures:
            if e.unique_id in alive:
                values = jsonable({**asdict(e), "project_id": a.project_id})
                exposures_wanted[e.unique_id] = cut(values, e.unique_id)
        for term in a.terms:
            if term.unique_id in alive:
                values = jsonable(asdict(term))
                values["group_unique_id"] = values.pop("group")
                values["project_id"] = a.project_id
                terms_wanted[term.unique_id] = cut(values, term.unique_id)

    group_ids = upsert(
        DbtGroup,
        integration=integration,
        desired=groups_wanted,
        key="unique_id",
        counts=counts,
        kind="group",
        removable=removable,
    )
    for values in [*nodes_wanted.values(), *terms_wanted.values()]:
        values["group_id"] = group_ids.get(values.pop("group_unique_id") or "")
    upsert(
        DbtNode,
        integration=integration,
        desired=nodes_wanted,
        key="unique_id",
        counts=counts,
        kind="node",
        skip=_newer,
        removable=removable,
    )
    earlier = [(_fact(o.provenance, jobs, runs, None), o) for o in outcomes]
    _tests(integration, tests_wanted, earlier, removable, counts)
    upsert(
        DbtExposure,
        integration=integration,
        desired=exposures_wanted,
        key="unique_id",
        counts=counts,
        kind="exposure",
        removable=removable,
    )
    upsert(
        DbtTerm,
        integration=integration,
        desired=terms_wanted,
        key="unique_id",
        counts=counts,
        kind="term",
        removable=removable,
    )
    read = [a.provenance.run_id for a in [*artifacts, *outcomes]]
    run_ids = [runs[run_id] for run_id in read if run_id in runs]
    DbtRun.objects.filter(pk__in=run_ids).update(ingested_at=timezone.now())


def _cutter(warn: Callable[[str], None]) -> Callable[[dict, str], dict]:
    """Cuts the description of an object's values (and of its columns') at the catalog's
    limit, with a warning naming it: the sync goes on, nothing is cut silently."""
    cut = DescriptionCutter(warn)

    def cut_values(values: dict, unique_id: str) -> dict:
        values["description"] = cut(values["description"], what=f"dbt description of {unique_id}")
        for column in values.get("columns") or ():
            if column.get("description"):
                what = f"dbt description of {unique_id}.{column['name']}"
                column["description"] = cut(column["description"], what=what)
        return values

    return cut_values


def _fact(provenance, jobs: dict, runs: dict, project_id) -> dict[str, Any]:
    """Where a fact came from, as the catalog's rows name it."""
    return {
        "job_id": jobs.get(provenance.job_id),
        "run_id": runs.get(provenance.run_id),
        "fact_finished_at": provenance.finished_at,
        "project_id": project_id,
    }


def _node_values(n) -> dict[str, Any]:
    freshness = n.freshness
    values = {
        "resource_type": n.resource_type,
        "name": n.name,
        "package_name": n.package_name,
        "original_file_path": n.original_file_path,
        "database": n.database,
        "schema": n.schema,
        "identifier": n.identifier,
        "relation_name": n.relation_name,
        "materialized": n.materialized,
        "description": n.description,
        "tags": list(n.tags),
        "meta": jsonable(n.meta),
        "owner": n.owner,
        "access": n.access,
        "group_unique_id": n.group,
        "contract_enforced": n.contract_enforced,
        "constraints": jsonable(n.constraints),
        "columns": jsonable([asdict(c) for c in n.columns]),
        "depends_on": list(n.depends_on),
        "raw_code": n.raw_code,
        "compiled_code": n.compiled_code,
        "url": n.url,
        "loader": n.loader,
        "source_name": n.source_name,
        "executed_at": n.executed_at,
        "execution_status": n.execution_status,
        "catalog_columns": jsonable(n.catalog_columns),
        "freshness_status": freshness.status if freshness else "",
        "freshness_max_loaded_at": freshness.max_loaded_at if freshness else None,
        "freshness_snapshotted_at": freshness.snapshotted_at if freshness else None,
        "freshness_age_seconds": freshness.age_seconds if freshness else None,
        "freshness_criteria": jsonable(freshness.criteria) if freshness else {},
        "freshness_error": freshness.error if freshness else "",
    }
    return values


def _tests(integration, wanted: dict, earlier, removable, counts: Counts) -> None:
    """Tests as the newest runs say, and a history row for each run whose outcome differs
    from the one before it: the runs between two syncs (`earlier`: (fact, outcomes)
    pairs) first, then the newest."""
    before = {
        row["unique_id"]: row
        for row in DbtTest.objects.filter(integration=integration, unique_id__in=list(wanted))
        .order_by()
        .values("id", "unique_id", "status", "failures", "message", "fact_finished_at")
    }
    test_ids = upsert(
        DbtTest,
        integration=integration,
        desired=wanted,
        key="unique_id",
        counts=counts,
        kind="test",
        skip=_newer,
        removable=removable,
    )
    runs_of: dict[str, list[dict]] = defaultdict(list)
    for fact, found in earlier:
        for outcome in found.outcomes:
            if outcome.unique_id in wanted and outcome.status:
                runs_of[outcome.unique_id].append({**asdict(outcome), **fact})
    for uid, values in wanted.items():
        if values["status"]:  # run by the newest run of its job
            runs_of[uid].append(values)
    history = []
    for uid, outcomes in runs_of.items():
        outcomes.sort(key=lambda o: o["fact_finished_at"] or EARLIEST)
        last = before.get(uid)
        for outcome in outcomes:
            if last is not None and _newer(last, outcome):
                continue
            if last is None or last["status"] == "" or _outcome(last) != _outcome(outcome):
                history.append(
                    DbtTestResult(
                        test_id=test_ids[uid],
                        job_id=outcome["job_id"],
                        run_id=outcome["run_id"],
                        status=outcome["status"],
                        failures=outcome["failures"],
                        message=outcome["message"],
                        executed_at=outcome["executed_at"],
                    )
                )
            last = outcome
    DbtTestResult.objects.bulk_create(history)
    counts.add("test_result", "created", len(history))


def _outcome(values: dict) -> tuple:
    return values["status"], values["failures"], values["message"]


# -- deriving the catalog's view ------------------------------------------------------------


def _warehouse_ids() -> list[int]:
    from integrations.models import Integration

    keys = [e.key for e in all_entries() if e.connector and e.connector.category == WAREHOUSE]
    return list(Integration.objects.filter(connector__in=keys).values_list("pk", flat=True))


def _derive(integration, counts: Counts) -> None:
    config = integration.config or {}
    database_map = config.get("database_map") or {}
    dbt_wins = config.get("description_policy") == "dbt_wins"
    index = TableIndex(_warehouse_ids())
    nodes = list(
        DbtNode.objects.filter(integration=integration, removed=False)
        .order_by()
        .values(*NODE_FIELDS)
    )
    by_table: dict[int, list[dict]] = defaultdict(list)
    for node in nodes:
        result = index.match(
            relation_name=node["relation_name"],
            database=node["database"],
            schema=node["schema"],
            identifier=node["identifier"],
            materialized=node["materialized"],
            database_map=database_map,
        )
        node["_match"] = result
        if result.table_id:
            by_table[result.table_id].append(node)
        else:
            node["columns"] = None  # only a matched node's columns are read again
    _enrich(by_table, dbt_wins, index, counts)
    _write_matches(nodes, counts)
    by_uid = {n["unique_id"]: n for n in nodes}
    _lineage(integration, nodes, by_uid, counts)
    _links(integration, by_uid, counts)
    m = defaultdict(int)
    for n in nodes:
        m[n["_match"].status] += 1
    counts.kinds["match_report"] = dict(m)


def _rows_by_id(model, ids: list[int], fields: tuple[str, ...]) -> dict[int, dict]:
    return {
        row["id"]: row for row in model.objects.filter(pk__in=ids).order_by().values("id", *fields)
    }


def _columns_of(table_ids: list[int]) -> dict[int, list[dict]]:
    found = defaultdict(list)
    rows = (
        Column.objects.filter(table_id__in=table_ids, removed=False)
        .order_by()
        .values("id", "table_id", "name", *COLUMN_DBT_FIELDS)
    )
    for row in rows:
        found[row["table_id"]].append(row)
    return found


def _enrich(
    by_table: dict[int, list[dict]], dbt_wins: bool, index: TableIndex, counts: Counts
) -> None:
    """Per matched table: pair its nodes' documented columns with the warehouse's (for the
    match report), then put descriptions, tags and owners from dbt onto the table and those
    columns. A table's nodes and warehouse columns are let go of once it is done: holding
    every node's columns and every warehouse column to the end made this the sync's peak."""
    table_rows = _rows_by_id(Table, list(by_table), TABLE_DBT_FIELDS)
    columns_by_table = _columns_of(list(by_table))
    table_updates, column_updates = [], []
    for table_id, table_nodes in by_table.items():
        table_nodes.sort(key=lambda n: (NODE_PRECEDENCE.get(n["resource_type"], 9), n["unique_id"]))
        present = columns_by_table.pop(table_id, [])
        case = index.case_of_table(table_id)
        for node in table_nodes:
            declared = [c["name"] for c in node["columns"]]
            node["_pairs"], node["_missing"], node["_undocumented"] = match_columns(
                declared, [c["name"] for c in present], case
            )
        description = next((n["description"] for n in table_nodes if n["description"]), "")
        tags = sorted({t for n in table_nodes for t in n["tags"]})
        owners = sorted({n["owner"] for n in table_nodes if n["owner"]})
        row = table_rows.pop(table_id)
        if _take_dbt_values(row, description, tags, owners, dbt_wins):
            table_updates.append(row)
        columns = {c["name"]: c for c in present}
        wanted: dict[str, tuple[str, list]] = {}
        for node in table_nodes:
            for declared in node["columns"]:
                target = node["_pairs"].get(declared["name"])
                if target and target not in wanted:
                    wanted[target] = (
                        declared.get("description") or "",
                        sorted(declared.get("tags") or []),
                    )
            node["columns"] = node["_pairs"] = None
        for name, (col_description, col_tags) in wanted.items():
            if _take_dbt_values(columns[name], col_description, col_tags, None, dbt_wins):
                column_updates.append(columns[name])
    now = timezone.now()
    for model, rows, fields, kind in (
        (Table, table_updates, TABLE_DBT_FIELDS, "table"),
        (Column, column_updates, COLUMN_DBT_FIELDS, "column"),
    ):
        for row in rows:
            row["updated_at"] = now
        bulk_update_rows(model, rows, [*fields, "updated_at"])
        counts.add(f"{kind}_enriched", "updated", len(rows))


def _write_matches(nodes: list[dict], counts: Counts) -> None:
    now = timezone.now()
    changed = []
    for node in nodes:
        result = node["_match"]
        values = {
            "table_id": result.table_id,
            "match_status": result.status,
            "match_rule": result.rule,
            "match_reason": result.reason,
            "match_candidate": result.candidate,
            "missing_columns": node.get("_missing", []),
            "undocumented_columns": node.get("_undocumented", []),
        }
        if any(node[k] != v for k, v in values.items()):
            node.update(values)
            changed.append({"id": node["id"], "updated_at": now, **values})
    bulk_update_rows(DbtNode, changed, [*MATCH_FIELDS, "updated_at"])
    counts.add("match", "updated", len(changed))


def _take_dbt_values(
    row: dict, description: str, tags: list, owners: list | None, dbt_wins: bool
) -> bool:
    """Put dbt's values on a table or column row where the integration's policy lets dbt
    write them; whether that changed the row."""
    may = lambda source: dbt_wins or source in DBT_MAY_WRITE  # noqa: E731
    wanted: dict[str, Any] = {}
    if description and may(row["description_source"]):
        wanted.update(description=description, description_source=DescriptionSource.DBT)
    if tags and may(row["tags_source"]):
        wanted.update(tags=tags, tags_source=DescriptionSource.DBT)
    if owners and may(row["owners_source"]):
        wanted.update(owners=owners, owners_source=DescriptionSource.DBT)
    changed = any(row[name] != value for name, value in wanted.items())
    row.update(wanted)
    return changed


def _resolve(uid: str, by_uid: dict, seen: set | None = None) -> set[int]:
    """The tables behind a dependency, looking through ephemeral models."""
    node = by_uid.get(uid)
    if node is None:
        return set()
    if node["_match"].table_id:
        return {node["_match"].table_id}
    if node["materialized"] != "ephemeral":
        return set()
    seen = seen or set()
    if uid in seen:
        return set()
    seen.add(uid)
    found = set()
    for dep in node["depends_on"]:
        found |= _resolve(dep, by_uid, seen)
    return found


def _lineage(integration, nodes: list[dict], by_uid: dict, counts: Counts) -> None:
    wanted = set()
    for node in nodes:
        down = node["_match"].table_id
        if not down:
            continue
        for dep in node["depends_on"]:
            for up in _resolve(dep, by_uid):
                if up != down:
                    wanted.add((up, down))
    existing = {
        (row[1], row[2]): row[0]
        for row in TableLineage.objects.filter(integration=integration).values_list(
            "id", "upstream_id", "downstream_id"
        )
    }
    new = [
        TableLineage(integration=integration, upstream_id=u, downstream_id=d)
        for u, d in wanted - set(existing)
    ]
    gone = [pk for edge, pk in existing.items() if edge not in wanted]
    TableLineage.objects.bulk_create(new)
    if gone:
        TableLineage.objects.filter(pk__in=gone).delete()
    counts.add("lineage", "created", len(new))
    counts.add("lineage", "removed", len(gone))


def _links(integration, by_uid: dict, counts: Counts) -> None:
    """Tests → their node and table; exposures and terms → tables; jobs → tables they build."""
    tests = (
        DbtTest.objects.filter(integration=integration)
        .order_by()
        .values("id", "attached_node", "node_id", "table_id")
    )
    changed = []
    for row in tests:
        node = by_uid.get(row["attached_node"])
        node_id = node["id"] if node else None
        table_id = node["_match"].table_id if node else None
        if (row["node_id"], row["table_id"]) != (node_id, table_id):
            changed.append({"id": row["id"], "node_id": node_id, "table_id": table_id})
    bulk_update_rows(DbtTest, changed, ["node_id", "table_id"])
    counts.add("test_link", "updated", len(changed))

    for model in (DbtExposure, DbtTerm):
        wanted = set()
        for pk, depends_on in model.objects.filter(
            integration=integration, removed=False
        ).values_list("id", "depends_on"):
            for dep in depends_on:
                for table_id in _resolve(dep, by_uid):
                    wanted.add((pk, table_id))
        _sync_m2m(
            model.tables.through,
            model._meta.model_name,
            "table_id",
            wanted,
            model.objects.filter(integration=integration),
            counts,
        )

    wanted = set()
    for node in by_uid.values():
        if node["job_id"] and node["_match"].table_id and node["execution_status"]:
            wanted.add((node["job_id"], node["_match"].table_id))
    _sync_m2m(
        DbtJob.builds.through,
        "dbtjob",
        "table_id",
        wanted,
        DbtJob.objects.filter(integration=integration),
        counts,
    )


def _sync_m2m(through, owner_name: str, target: str, wanted: set, owners, counts: Counts) -> None:
    owner_field = f"{owner_name}_id"
    existing = {
        (row[1], row[2]): row[0]
        for row in through.objects.filter(**{f"{owner_name}__in": owners}).values_list(
            "id", owner_field, target
        )
    }
    new = [through(**{owner_field: o, target: t}) for o, t in wanted - set(existing)]
    gone = [pk for pair, pk in existing.items() if pair not in wanted]
    through.objects.bulk_create(new)
    if gone:
        through.objects.filter(pk__in=gone).delete()
    counts.add(f"{owner_name}_link", "created", len(new))
    counts.add(f"{owner_name}_link", "removed", len(gone))
