"""What the catalog derives from the stored dbt state: which table each node is, dbt's
descriptions, tags and owners on those tables and columns (and taken back where a match
moved away), table lineage, what tests, exposures and terms point at, and which jobs build
each table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils import timezone

from ...models import (
    Column,
    DbtExposure,
    DbtJob,
    DbtNode,
    DbtTerm,
    DbtTest,
    DescriptionSource,
    Table,
    TableLineage,
)
from ..bulk import bulk_update_rows
from ..dbt_take_back import take_back
from ..matching import TableIndex, candidate_warehouses, match_columns
from . import job_facts
from .upsert import Counts

# Which node describes a table when several do (a seed and the source over it).
NODE_PRECEDENCE = {"model": 0, "snapshot": 1, "seed": 2, "source": 3}
DBT_MAY_WRITE = {DescriptionSource.NONE, DescriptionSource.DBT}
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
    *MATCH_FIELDS,
)


def derive(integration, counts: Counts, write_tests=None) -> None:
    """Match the nodes, then enrich, draw lineage and link; `write_tests`
    (definitions.store's) writes the manifests' tests once their nodes are matched."""
    config = integration.config or {}
    database_map = config.get("database_map") or {}
    dbt_wins = config.get("description_policy") == "dbt_wins"
    index = TableIndex(candidate_warehouses(integration))
    nodes = list(
        DbtNode.objects.filter(integration=integration, removed=False)
        .order_by()
        .values(*NODE_FIELDS)
    )
    matched_before = _matched_before(integration)
    by_table: dict[int, list[dict]] = defaultdict(list)
    for node in nodes:
        result = index.match(
            relation_name=node["relation_name"],
            database=node["database"],
            schema=node["schema"],
            identifier=node["identifier"],
            materialized=node["materialized"],
            database_map=database_map,
            columns=[c["name"] for c in node["columns"] or ()],
            previous_table_id=node["table_id"],
        )
        node["_match"] = result
        if result.table_id:
            by_table[result.table_id].append(node)
        else:
            node["columns"] = None  # only a matched node's columns are read again
    if write_tests is not None:
        # Before the enrichment, whose peak they would otherwise add to.
        by_id = {n["unique_id"]: n for n in nodes}
        write_tests(lambda attached: _test_link(by_id.get(attached)))
        del by_id
    lost_columns = _enrich(by_table, dbt_wins, index, counts)
    _write_matches(nodes, counts)
    _take_back(integration, matched_before - set(by_table), lost_columns, counts)
    by_uid = {n["unique_id"]: n for n in nodes}
    _lineage(integration, nodes, by_uid, counts)
    _links(integration, by_uid, counts)
    m = defaultdict(int)
    for n in nodes:
        m[n["_match"].status] += 1
    counts.kinds["match_report"] = dict(m)


def _matched_before(integration) -> set[int]:
    """The tables this integration's nodes (live or removed since) were matched to; the
    removed nodes let go of theirs now."""
    rows = list(
        DbtNode.objects.filter(integration=integration, table_id__isnull=False)
        .order_by()
        .values_list("id", "table_id", "removed")
    )
    gone = [pk for pk, _table, removed in rows if removed]
    if gone:
        DbtNode.objects.filter(pk__in=gone).update(table_id=None, match_status="")
    return {table for _pk, table, _removed in rows}


def _take_back(integration, tables: set[int], columns: list[int], counts: Counts) -> None:
    """dbt's values come off the tables no node of this integration is matched to any more
    (unless another dbt integration's node is) and off columns no node documents now."""
    if not tables and not columns:
        return
    others = (
        DbtNode.objects.filter(table_id__in=tables, removed=False)
        .exclude(integration=integration)
        .values("table_id")
    )
    taken = take_back(table_ids=tables, column_ids=columns, keep_tables=others)
    counts.add("table_enriched", "removed", taken["tables"])
    counts.add("column_enriched", "removed", taken["columns"])


def _rows_by_id(model, ids: list[int], fields: tuple[str, ...]) -> dict[int, dict]:
    return {
        row["id"]: row for row in model.objects.filter(pk__in=ids).order_by().values("id", *fields)
    }


def _columns_of(table_ids: list[int]) -> dict[int, list[dict]]:
    found = defaultdict(list)
    rows = (
        Column.objects.filter(table_id__in=table_ids, removed=False)
        .order_by()
        .values("id", "table_id", "name", "ordinal", *COLUMN_DBT_FIELDS)
    )
    for row in rows:
        found[row["table_id"]].append(row)
    # In the warehouse's order, not the order rows happen to sit in after updates: what is
    # derived from them (undocumented columns) must not change when nothing did.
    for columns in found.values():
        columns.sort(key=lambda c: (c["ordinal"], c["id"]))
    return found


def _enrich(
    by_table: dict[int, list[dict]], dbt_wins: bool, index: TableIndex, counts: Counts
) -> list[int]:
    """Per matched table: pair its nodes' documented columns with the warehouse's (for the
    match report), then put descriptions, tags and owners from dbt onto the table and those
    columns. A table's nodes and warehouse columns are let go of once it is done: holding
    every node's columns and every warehouse column to the end made this the sync's peak.
    Returns the columns holding dbt's values that no node documents any more."""
    table_rows = _rows_by_id(Table, list(by_table), TABLE_DBT_FIELDS)
    columns_by_table = _columns_of(list(by_table))
    table_updates, column_updates, undocumented = [], [], []
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
        undocumented += [
            c["id"]
            for name, c in columns.items()
            if name not in wanted
            and DescriptionSource.DBT in (c["description_source"], c["tags_source"])
        ]
    now = timezone.now()
    for model, rows, fields, kind in (
        (Table, table_updates, TABLE_DBT_FIELDS, "table"),
        (Column, column_updates, COLUMN_DBT_FIELDS, "column"),
    ):
        for row in rows:
            row["updated_at"] = now
        bulk_update_rows(model, rows, [*fields, "updated_at"])
        counts.add(f"{kind}_enriched", "updated", len(rows))
    return undocumented


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


def _test_link(node: dict | None) -> dict[str, int | None]:
    """A test's node and that node's table."""
    if node is None:
        return {"node_id": None, "table_id": None}
    return {"node_id": node["id"], "table_id": node["_match"].table_id}


def _links(integration, by_uid: dict, counts: Counts) -> None:
    """Tests → their node and table; exposures and terms → tables; jobs → tables they build."""
    tests = (
        DbtTest.objects.filter(integration=integration)
        .order_by()
        .values("id", "attached_node", "node_id", "table_id")
    )
    changed = []
    for row in tests:
        link = _test_link(by_uid.get(row["attached_node"]))
        if (row["node_id"], row["table_id"]) != (link["node_id"], link["table_id"]):
            changed.append({"id": row["id"], **link})
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
    for job_id, uid in job_facts.built_by(integration):
        node = by_uid.get(uid)
        if node is not None and node["_match"].table_id:
            wanted.add((job_id, node["_match"].table_id))
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
