"""A table's lineage: the tables up- and downstream of it, and the exposures that use them.

The walk is breadth first over `TableLineage` (every integration's edges), one query per
direction per hop for the whole frontier; exposures, labels, test statuses and the edges
between the nodes found are then read in one query each. The number of statements depends
on the depth, never on the number of tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from django.db.models import F

from ..models import DbtExposure, DbtTest, Table, TableLineage

NodeKind = Literal["table", "exposure"]

# The worst outcome among a table's tests is the one shown.
_STATUS_RANK = {"error": 0, "fail": 1, "warn": 2}
_KIND_RANK = {"table": 0, "exposure": 1}


@dataclass(frozen=True)
class LineageNode:
    """A table or an exposure on a level: 0 is the focus, negative upstream, positive downstream."""

    key: str  # "table:<pk>" or "exposure:<pk>"
    kind: NodeKind
    id: int
    label: str
    sublabel: str  # the table's schema, or the exposure's type
    level: int
    removed: bool = False
    status: str = ""  # "", or the worst test outcome of a table: "error", "fail", "warn"


@dataclass(frozen=True)
class LineageGraph:
    focus: LineageNode
    nodes: list[LineageNode]  # the focus included
    edges: list[tuple[str, str]]  # (upstream key, downstream key)
    depth: int
    truncated: bool  # max_nodes was reached and some nodes were left out


def table_key(pk: int) -> str:
    return f"table:{pk}"


def exposure_key(pk: int) -> str:
    return f"exposure:{pk}"


def table_lineage(*, table: Table, depth: int = 2, max_nodes: int = 200) -> LineageGraph:
    """Tables up to `depth` hops up- and downstream of `table`, and the exposures (not removed)
    that use `table` or a table downstream of it, one level after the deepest table they use.

    Stops adding nodes at `max_nodes`, exposures included, and then says so with `truncated`.
    Depth 0 is the table alone.
    """
    depth = max(depth, 0)
    max_nodes = max(max_nodes, 1)
    levels: dict[int, int] = {table.pk: 0}
    truncated = False
    upstream, downstream = [table.pk], [table.pk]
    for hop in range(1, depth + 1):
        upstream, truncated = _walk(upstream, levels, -hop, max_nodes)
        if not truncated:
            downstream, truncated = _walk(downstream, levels, hop, max_nodes)
        if truncated or not (upstream or downstream):
            break

    nodes: list[LineageNode] = []
    edges: set[tuple[str, str]] = set()
    if depth > 0 and not truncated:
        truncated = _add_exposures(levels, nodes, edges, max_nodes)
    nodes.extend(_table_nodes(levels))
    if len(levels) > 1:
        pairs = (
            TableLineage.objects.filter(upstream_id__in=levels, downstream_id__in=levels)
            .exclude(upstream_id=F("downstream_id"))
            .values_list("upstream_id", "downstream_id")
            .distinct()
            .order_by()
        )
        edges.update((table_key(u), table_key(d)) for u, d in pairs)

    nodes.sort(key=lambda n: (n.level, _KIND_RANK[n.kind], n.label.lower(), n.id))
    focus = next(n for n in nodes if n.key == table_key(table.pk))
    return LineageGraph(
        focus=focus, nodes=nodes, edges=sorted(edges), depth=depth, truncated=truncated
    )


def _walk(
    frontier: list[int], levels: dict[int, int], level: int, max_nodes: int
) -> tuple[list[int], bool]:
    """One hop from the whole frontier, upstream when `level` < 0: (the new frontier, truncated)."""
    if not frontier:
        return [], False
    edges = TableLineage.objects.order_by()
    if level < 0:
        found = edges.filter(downstream_id__in=frontier).values_list("upstream_id", flat=True)
    else:
        found = edges.filter(upstream_id__in=frontier).values_list("downstream_id", flat=True)
    added: list[int] = []
    for pk in sorted(set(found) - levels.keys()):
        if len(levels) >= max_nodes:
            return added, True
        levels[pk] = level
        added.append(pk)
    return added, False


def _add_exposures(
    levels: dict[int, int],
    nodes: list[LineageNode],
    edges: set[tuple[str, str]],
    max_nodes: int,
) -> bool:
    """Adds the exposures using a table of the focus's downstream side; True if some did not fit."""
    links = (
        DbtExposure.tables.through.objects.filter(table_id__in=levels, dbtexposure__removed=False)
        .values_list(
            "dbtexposure_id",
            "table_id",
            "dbtexposure__name",
            "dbtexposure__label",
            "dbtexposure__exposure_type",
        )
        .order_by()
    )
    uses: dict[int, set[int]] = defaultdict(set)
    about: dict[int, tuple[str, str]] = {}
    for exposure_id, table_id, name, label, exposure_type in links:
        uses[exposure_id].add(table_id)
        about[exposure_id] = (label or name, exposure_type)
    placed = []
    for exposure_id, tables in uses.items():
        deepest = max(levels[t] for t in tables)
        if deepest >= 0:
            placed.append((deepest + 1, about[exposure_id][0].lower(), exposure_id))
    count = len(levels)
    for level, _, exposure_id in sorted(placed):
        if count >= max_nodes:
            return True
        count += 1
        label, exposure_type = about[exposure_id]
        key = exposure_key(exposure_id)
        nodes.append(
            LineageNode(
                key=key,
                kind="exposure",
                id=exposure_id,
                label=label,
                sublabel=exposure_type,
                level=level,
            )
        )
        edges.update((table_key(t), key) for t in uses[exposure_id])
    return False


def _table_nodes(levels: dict[int, int]) -> list[LineageNode]:
    statuses: dict[int, str] = {}
    failing = (
        DbtTest.objects.filter(table_id__in=levels, removed=False, status__in=_STATUS_RANK)
        .values_list("table_id", "status")
        .distinct()
        .order_by()
    )
    for table_id, status in failing:
        current = statuses.get(table_id)
        if current is None or _STATUS_RANK[status] < _STATUS_RANK[current]:
            statuses[table_id] = status
    rows = (
        Table.objects.filter(pk__in=levels)
        .values_list("pk", "name", "schema__name", "removed")
        .order_by()
    )
    return [
        LineageNode(
            key=table_key(pk),
            kind="table",
            id=pk,
            label=name,
            sublabel=schema,
            level=levels[pk],
            removed=removed,
            status=statuses.get(pk, ""),
        )
        for pk, name, schema, removed in rows
    ]
