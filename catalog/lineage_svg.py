"""A lineage graph drawn as SVG on the server: no JavaScript, nothing fetched.

Columns are levels, left (upstream) to right (downstream); an edge that spans several columns
runs through a thin lane in each column it crosses (Sugiyama's dummy nodes). Within a column,
boxes and lanes are ordered by the barycenter of their neighbours, sweeping right then left a
few times, which removes most crossings of a dbt project's lineage. Styling is in presentation attributes rather than a
<style> element: an SVG inlined in a page would leak its rules into the whole page, while page
CSS can still override attributes through the `lineage-*` classes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from catalog.links import site_path
from catalog.selectors.lineage import LineageGraph, LineageNode

NODE_WIDTH = 240
NODE_HEIGHT = 46
LANE_HEIGHT = 8  # the room an edge takes to cross a column
COLUMN_GAP = 56
ROW_GAP = 14
PADDING = 12
MAX_CHARS = 28
SWEEPS = 4

_COLOURS = {
    "table": ("#ffffff", "#9aa5b1"),
    "focus": ("#e8f0fe", "#1a73e8"),
    "exposure": ("#f3e8fd", "#8e24aa"),
}
_STATUS_STROKE = {"error": "#d93025", "fail": "#d93025", "warn": "#e37400"}
_EDGE = "#8a94a0"
# Characters XML 1.0 forbids, even as references: a name holding one must not break the page.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def render_lineage_svg(
    graph: LineageGraph, *, url_for: Callable[[LineageNode], str | None]
) -> SafeString:
    """The graph as an <svg> element, safe to put in a page as is (every text is escaped)."""
    nodes = {n.key: n for n in graph.nodes}
    nodes.setdefault(graph.focus.key, graph.focus)
    edges = [(u, d) for u, d in dict.fromkeys(graph.edges) if u in nodes and d in nodes and u != d]
    level = {key: node.level for key, node in nodes.items()}
    # An edge spanning several columns runs through a lane (a point) in each column it crosses,
    # so that it is ordered like a node and passes between boxes rather than behind them.
    lanes: dict[tuple[str, str], list[str]] = {}
    segments: list[tuple[str, str]] = []
    for upstream, downstream in edges:
        crossed = range(level[upstream] + 1, level[downstream])
        lanes[upstream, downstream] = [f"~{upstream}>{downstream}@{lvl}" for lvl in crossed]
        level.update(zip(lanes[upstream, downstream], crossed, strict=True))
        chain = [upstream, *lanes[upstream, downstream], downstream]
        segments.extend(zip(chain, chain[1:], strict=False))
    columns = _order(nodes, level, segments)

    def size(key: str) -> float:
        return NODE_HEIGHT if key in nodes else LANE_HEIGHT

    heights = {
        lvl: sum(size(key) for key in keys) + (len(keys) - 1) * ROW_GAP
        for lvl, keys in columns.items()
    }
    first = min(columns)
    width = 2 * PADDING + len(columns) * NODE_WIDTH + (len(columns) - 1) * COLUMN_GAP
    height = 2 * PADDING + max(heights.values())
    at: dict[str, tuple[float, float]] = {}  # key -> (left, vertical centre)
    for lvl, keys in columns.items():
        x = PADDING + (lvl - first) * (NODE_WIDTH + COLUMN_GAP)
        y = PADDING + (height - 2 * PADDING - heights[lvl]) / 2
        for key in keys:
            at[key] = (x, y + size(key) / 2)
            y += size(key) + ROW_GAP

    # Unique per focus, as several graphs may share a page.
    marker = f"lineage-arrow-{graph.focus.kind}-{graph.focus.id}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" '
        f'aria-label={_attr(_summary(graph, nodes))} width="{_num(width)}" '
        f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, sans-serif">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
        f'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{_EDGE}"/></marker></defs>',
        '<g class="lineage-edges" fill="none">',
    ]
    focus = graph.focus.key
    for edge in edges:
        path = _path([at[key] for key in (edge[0], *lanes[edge], edge[1])])
        parts.append(
            f'<path class="lineage-edge" data-from={_attr(edge[0])} data-to={_attr(edge[1])} '
            f'd="{path}" stroke="{_EDGE}" stroke-width="{1.75 if focus in edge else 1.25}" '
            f'marker-end="url(#{marker})"/>'
        )
    parts.append("</g>")
    parts.append('<g class="lineage-nodes">')
    for lvl in sorted(columns):
        for key in columns[lvl]:
            if key in nodes:
                x, centre = at[key]
                node = nodes[key]
                parts.append(
                    _node(
                        node, (x, centre - NODE_HEIGHT / 2), focus=key == focus, url=url_for(node)
                    )
                )
    parts.append("</g></svg>")
    return mark_safe("\n".join(parts))


def _order(
    nodes: dict[str, LineageNode], level: dict[str, int], segments: list[tuple[str, str]]
) -> dict[int, list[str]]:
    """Columns by level, each ordered to cross few edges (barycenter heuristic)."""

    def initially(key: str) -> tuple:
        node = nodes.get(key)
        return (0, node.kind, node.label.lower(), key) if node else (1, "", "", key)

    columns: dict[int, list[str]] = defaultdict(list)
    for key in sorted(level, key=initially):
        columns[level[key]].append(key)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for upstream, downstream in segments:
        neighbours[upstream].add(downstream)
        neighbours[downstream].add(upstream)
    levels = sorted(columns)
    for sweep in range(SWEEPS):
        rightwards = sweep % 2 == 0
        for lvl in levels if rightwards else reversed(levels):
            # Ranks centred on 0, as the columns are centred vertically when drawn.
            rank = {
                key: index - (len(keys) - 1) / 2
                for keys in columns.values()
                for index, key in enumerate(keys)
            }
            weights = {
                key: _barycenter(key, level, neighbours, rank, rightwards=rightwards)
                for key in columns[lvl]
            }
            columns[lvl].sort(key=lambda key: (weights[key], rank[key]))
    return dict(columns)


def _barycenter(
    key: str,
    level: dict[str, int],
    neighbours: dict[str, set[str]],
    rank: dict[str, float],
    *,
    rightwards: bool,
) -> float:
    """The mean rank of a node's neighbours in the columns before it (or after it)."""
    placed = [
        rank[other]
        for other in neighbours[key]
        if (level[other] < level[key] if rightwards else level[other] > level[key])
    ]
    return sum(placed) / len(placed) if placed else rank[key]


def _path(points: list[tuple[float, float]]) -> str:
    """Smooth cubic Béziers from the right side of the first box, straight through the lanes of
    the columns crossed, to the left side of the last box. Points are (left, vertical centre)."""
    (left, y1), *lanes, (x2, y2) = points
    x1 = left + NODE_WIDTH
    if x2 == left:
        # Same column (levels are shortest distances): loop out on the right and back in.
        x2 += NODE_WIDTH
        c1, c2 = x1 + COLUMN_GAP / 2, x2 + COLUMN_GAP / 2
        return f"M{_num(x1)},{_num(y1)} C{_num(c1)},{_num(y1)} {_num(c2)},{_num(y2)} {_num(x2)},{_num(y2)}"
    if x2 < x1:
        # Backwards, only possible with a cycle: an S out of the right side, into the left.
        c1, c2 = x1 + COLUMN_GAP, x2 - COLUMN_GAP
        return f"M{_num(x1)},{_num(y1)} C{_num(c1)},{_num(y1)} {_num(c2)},{_num(y2)} {_num(x2)},{_num(y2)}"
    d = [f"M{_num(x1)},{_num(y1)}"]
    for lane_x, lane_y in lanes:
        d.append(_bend(x1, y1, lane_x, lane_y))
        x1, y1 = lane_x + NODE_WIDTH, lane_y
        d.append(f"L{_num(x1)},{_num(y1)}")
    d.append(_bend(x1, y1, x2, y2))
    return " ".join(d)


def _bend(x1: float, y1: float, x2: float, y2: float) -> str:
    half = (x2 - x1) / 2
    return f"C{_num(x1 + half)},{_num(y1)} {_num(x2 - half)},{_num(y2)} {_num(x2)},{_num(y2)}"


def _node(node: LineageNode, at: tuple[float, float], *, focus: bool, url: str | None) -> str:
    x, y = at
    fill, stroke = _COLOURS["focus" if focus else node.kind]
    stroke = _STATUS_STROKE.get(node.status, stroke)
    classes = ["lineage-node", f"lineage-node--{node.kind}"]
    if focus:
        classes.append("lineage-node--focus")
    if node.status:
        classes.append(f"lineage-node--{node.status}")
    if node.removed:
        classes.append("lineage-node--removed")
    exposure = node.kind == "exposure"
    radius = NODE_HEIGHT / 2 if exposure else 6
    inset = 16 if exposure else 12
    box = (
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" '
        f'rx="{_num(radius)}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{2.5 if focus or node.status else 1.25}"'
        + (' stroke-dasharray="5 3"' if node.removed else "")
        + "/>"
    )
    label = (
        f'<text x="{_num(x + inset)}" y="{_num(y + 20)}" font-size="12" font-weight="600" '
        f'fill="{"#6b7280" if node.removed else "#1f2937"}">{_text(_shorten(node.label))}</text>'
    )
    sublabel = (
        f'<text x="{_num(x + inset)}" y="{_num(y + 36)}" font-size="11" fill="#6b7280">'
        f"{_text(_shorten(node.sublabel))}</text>"
    )
    title = f"<title>{_text(_hover(node, focus=focus))}</title>"
    inner = title + box + label + sublabel
    # Nodes link to the catalog's own pages only: an SVG <a> runs a javascript: href too.
    href = site_path(url)
    if href:
        inner = f"<a href={_attr(href)}>{inner}</a>"
    return (
        f'<g class="{" ".join(classes)}" data-key={_attr(node.key)}'
        + (' opacity="0.7"' if node.removed else "")
        + f">{inner}</g>"
    )


def _summary(graph: LineageGraph, nodes: dict[str, LineageNode]) -> str:
    tables = [n for n in nodes.values() if n.kind == "table"]
    upstream = sum(1 for n in tables if n.level < 0)
    downstream = sum(1 for n in tables if n.level > 0)
    exposures = len(nodes) - len(tables)
    text = (
        f"Lineage of {graph.focus.label}: {upstream} upstream "
        f"{'table' if upstream == 1 else 'tables'}, {downstream} downstream "
        f"{'table' if downstream == 1 else 'tables'}"
    )
    if exposures:
        text += f", {exposures} {'exposure' if exposures == 1 else 'exposures'}"
    return text + (" (truncated)" if graph.truncated else "")


def _hover(node: LineageNode, *, focus: bool) -> str:
    facts = [node.sublabel] if node.sublabel else []
    if focus:
        facts.append("this table")
    if node.kind == "exposure":
        facts.append("exposure")
    if node.status:
        facts.append({"warn": "tests warning"}.get(node.status, f"tests: {node.status}"))
    if node.removed:
        facts.append("removed")
    return node.label + (f" ({', '.join(facts)})" if facts else "")


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1].rstrip() + "…"


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def _attr(value: str) -> str:
    """A double-quoted, escaped attribute value."""
    return f'"{escape(_NOT_XML.sub(chr(0xFFFD), value), _ATTR_ENTITIES)}"'


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
