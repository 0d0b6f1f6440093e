"""table_lineage and its SVG, on the real jaffle_shop catalog with the real dbt lineage."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from catalog.lineage_svg import NODE_WIDTH, PADDING, render_lineage_svg
from catalog.models import DbtExposure, Table, TableLineage
from catalog.selectors.lineage import LineageGraph, LineageNode, table_lineage
from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import sync_execute
from tests.support.dbt_fixtures import one_run

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def warehouse(warehouse_config) -> Integration:
    integration = Integration.objects.create(
        connector="postgres", name="jaffle_shop", config=warehouse_config
    )
    assert sync_execute(run=SyncRun.objects.create(integration=integration)).value == "succeeded"
    return integration


@pytest.fixture
def dbt(warehouse) -> Integration:
    integration = Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )
    dbt_apply(
        integration=integration,
        run=SyncRun.objects.create(integration=integration, status="succeeded"),
        records=one_run(),
    )
    return integration


def table(name: str) -> Table:
    return Table.objects.get(name=name)


def at(graph: LineageGraph, level: int) -> set[str]:
    return {n.label for n in graph.nodes if n.level == level}


def named_edges(graph: LineageGraph) -> set[tuple[str, str]]:
    labels = {n.key: n.label for n in graph.nodes}
    return {(labels[u], labels[d]) for u, d in graph.edges}


def add_tables(warehouse: Integration, dbt: Integration, prefix: str, count: int) -> list[Table]:
    schema = table("customers").schema
    return Table.objects.bulk_create(
        Table(integration=warehouse, schema=schema, name=f"{prefix}_{i:03}") for i in range(count)
    )


def link(dbt: Integration, pairs) -> None:
    TableLineage.objects.bulk_create(
        TableLineage(integration=dbt, upstream=u, downstream=d) for u, d in pairs
    )


def test_customers_at_depth_one_reads_from_the_three_staging_models(dbt):
    graph = table_lineage(table=table("customers"), depth=1)

    assert graph.focus.label == "customers" and graph.focus.level == 0
    assert graph.focus.sublabel == "analytics" and graph.focus.kind == "table"
    assert at(graph, -1) == {"stg_customers", "stg_orders", "stg_payments"}
    assert at(graph, -2) == set()
    assert named_edges(graph) == {
        ("stg_customers", "customers"),
        ("stg_orders", "customers"),
        ("stg_payments", "customers"),
        ("customers", "Customer revenue dashboard"),
    }
    assert (graph.depth, graph.truncated) == (1, False)


def test_at_depth_two_the_raw_seeds_are_upstream_too(dbt):
    graph = table_lineage(table=table("customers"), depth=2)

    assert at(graph, -2) == {"raw_customers", "raw_orders", "raw_payments"}
    assert {
        ("raw_customers", "stg_customers"),
        ("raw_orders", "stg_orders"),
        ("raw_payments", "stg_payments"),
    } <= named_edges(graph)
    # Upstream means upstream only: the snapshot reads raw_orders but feeds nothing here.
    assert "raw_orders_snapshot" not in {n.label for n in graph.nodes}


def test_the_revenue_dashboard_is_downstream_of_customers(dbt):
    graph = table_lineage(table=table("customers"), depth=2)

    (exposure,) = [n for n in graph.nodes if n.kind == "exposure"]
    dashboard = DbtExposure.objects.get(name="customer_revenue_dashboard")
    assert (exposure.key, exposure.id, exposure.level) == (
        f"exposure:{dashboard.pk}",
        dashboard.pk,
        1,
    )
    assert (exposure.label, exposure.sublabel) == ("Customer revenue dashboard", "dashboard")
    assert (graph.focus.key, exposure.key) in graph.edges


def test_an_exposure_sits_one_level_after_the_deepest_table_it_uses(dbt):
    graph = table_lineage(table=table("stg_orders"), depth=2)

    assert at(graph, 1) == {"customers", "orders"}
    assert at(graph, 2) == {"dim_dates"}
    assert at(graph, 3) == {"Customer revenue dashboard"}
    into_dashboard = {u for u, d in named_edges(graph) if d == "Customer revenue dashboard"}
    assert into_dashboard == {"customers", "orders", "dim_dates"}


def test_exposures_of_upstream_tables_only_and_removed_exposures_are_left_out(dbt):
    # dim_dates reads orders, which the dashboard uses too, but only dim_dates is "downstream".
    assert "Customer revenue dashboard" in at(table_lineage(table=table("dim_dates")), 1)
    assert not [
        n
        for n in table_lineage(table=table("stg_customers")).nodes
        if n.level < 0 and n.kind == "exposure"
    ]

    DbtExposure.objects.update(removed=True)
    graph = table_lineage(table=table("customers"))
    assert [n for n in graph.nodes if n.kind == "exposure"] == []


def test_depth_zero_is_the_table_alone(dbt):
    graph = table_lineage(table=table("customers"), depth=0)

    assert graph.nodes == [graph.focus] and graph.edges == []
    assert (graph.depth, graph.truncated) == (0, False)


def test_max_nodes_truncates_the_graph_and_says_so(dbt):
    graph = table_lineage(table=table("customers"), depth=2, max_nodes=3)

    assert len(graph.nodes) == 3 and graph.truncated
    assert graph.focus in graph.nodes
    keys = {n.key for n in graph.nodes}
    assert all(u in keys and d in keys for u, d in graph.edges)
    # Exactly as many nodes as allowed is not truncation.
    everything = table_lineage(table=table("customers"), depth=2)
    assert len(everything.nodes) == 8 and not everything.truncated
    assert not table_lineage(table=table("customers"), depth=2, max_nodes=8).truncated
    assert table_lineage(table=table("customers"), depth=2, max_nodes=7).truncated


def test_tables_with_failing_or_warning_tests_carry_the_status(dbt):
    graph = table_lineage(table=table("raw_orders"), depth=1)
    assert {n.label: n.status for n in graph.nodes if n.status} == {"raw_orders_snapshot": "fail"}

    graph = table_lineage(table=table("stg_payments"), depth=1)
    assert {n.label: n.status for n in graph.nodes if n.status} == {"raw_payments": "warn"}


def test_removed_tables_stay_in_the_graph_flagged(dbt):
    Table.objects.filter(name="stg_orders").update(removed=True)
    graph = table_lineage(table=table("customers"), depth=1)
    assert {n.label for n in graph.nodes if n.removed} == {"stg_orders"}


@pytest.mark.parametrize(("depth", "queries", "more"), [(0, 2, 0), (1, 6, 40), (2, 8, 120)])
def test_the_number_of_queries_depends_on_the_depth_not_the_size_of_the_catalog(
    dbt, warehouse, django_assert_num_queries, depth, queries, more
):
    orders = table("orders")
    with django_assert_num_queries(queries):
        small = table_lineage(table=orders, depth=depth)

    # Many more tables on every level reached, and a level beyond the depth.
    feeders = add_tables(warehouse, dbt, "feeder", 40)
    readers = add_tables(warehouse, dbt, "reader", 40)
    further = add_tables(warehouse, dbt, "further", 40)
    link(dbt, [(f, table("stg_orders")) for f in feeders])
    link(dbt, [(orders, r) for r in readers])
    link(dbt, [(r, f) for r, f in zip(readers, further, strict=True)])
    with django_assert_num_queries(queries):
        large = table_lineage(table=orders, depth=depth)

    assert len(large.nodes) == len(small.nodes) + more
    assert not large.truncated


def test_edges_across_the_focus_between_up_and_downstream_tables_are_found(dbt, warehouse):
    (shortcut,) = add_tables(warehouse, dbt, "shortcut", 1)
    link(dbt, [(table("stg_orders"), shortcut), (table("customers"), shortcut)])

    graph = table_lineage(table=table("customers"), depth=1)
    assert ("stg_orders", "shortcut_000") in named_edges(graph)


# The SVG


def url_for(node: LineageNode) -> str | None:
    return f"/catalog/{node.kind}s/{node.id}/?from=lineage&depth=2"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def node_groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-key"): g for g in root.iter(f"{SVG}g") if g.get("data-key")}


def test_the_svg_parses_and_links_every_node_to_its_page(dbt):
    graph = table_lineage(table=table("stg_orders"), depth=2)
    root = parse(render_lineage_svg(graph, url_for=url_for))

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == (
        "Lineage of stg_orders: 1 upstream table, 3 downstream tables, 1 exposure"
    )
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert width > 5 * NODE_WIDTH and height > 2 * 46
    links = list(root.iter(f"{SVG}a"))
    assert len(links) == len(graph.nodes) == 6
    assert sorted(a.get("href") for a in links) == sorted(url_for(n) for n in graph.nodes)
    groups = node_groups(root)
    assert set(groups) == {n.key for n in graph.nodes}
    for node in graph.nodes:
        (title,) = groups[node.key].iter(f"{SVG}title")
        assert title.text.startswith(node.label)
        texts = [t.text for t in groups[node.key].iter(f"{SVG}text")]
        assert texts == [node.label, node.sublabel]


def test_nodes_without_a_url_are_not_links(dbt):
    graph = table_lineage(table=table("customers"), depth=1)
    root = parse(
        render_lineage_svg(graph, url_for=lambda n: url_for(n) if n.kind == "table" else None)
    )

    groups = node_groups(root)
    exposure = next(n for n in graph.nodes if n.kind == "exposure")
    assert list(groups[exposure.key].iter(f"{SVG}a")) == []
    assert len(list(root.iter(f"{SVG}a"))) == len(graph.nodes) - 1


def test_the_focus_is_highlighted_and_exposures_and_failures_stand_out(dbt):
    graph = table_lineage(table=table("raw_orders"), depth=3)
    root = parse(render_lineage_svg(graph, url_for=url_for))
    groups = node_groups(root)

    def box(key):
        return next(groups[key].iter(f"{SVG}rect"))

    focus = graph.focus.key
    assert "lineage-node--focus" in groups[focus].get("class").split()
    assert [k for k, g in groups.items() if "lineage-node--focus" in g.get("class")] == [focus]
    others = {box(k).get("fill") for k in groups if k != focus}
    assert box(focus).get("fill") not in others
    exposure = next(n.key for n in graph.nodes if n.kind == "exposure")
    assert box(exposure).get("rx") == "23"
    assert box(exposure).get("fill") != box(table_key_of(graph, "orders")).get("fill")
    snapshot = table_key_of(graph, "raw_orders_snapshot")
    assert "lineage-node--fail" in groups[snapshot].get("class")
    assert box(snapshot).get("stroke") == "#d93025"


def table_key_of(graph: LineageGraph, label: str) -> str:
    return next(n.key for n in graph.nodes if n.label == label)


def test_every_edge_is_a_curve_with_an_arrowhead(dbt):
    graph = table_lineage(table=table("stg_orders"), depth=2)
    root = parse(render_lineage_svg(graph, url_for=url_for))

    (marker,) = root.iter(f"{SVG}marker")
    edges = [p for p in root.iter(f"{SVG}path") if "lineage-edge" in (p.get("class") or "")]
    assert len(edges) == len(graph.edges) == 7
    assert {(p.get("data-from"), p.get("data-to")) for p in edges} == set(graph.edges)
    for path in edges:
        assert path.get("marker-end") == f"url(#{marker.get('id')})"
        assert path.get("d").startswith("M") and " C" in path.get("d")
    # customers (level 1) → the dashboard (level 3) passes between dim_dates and its neighbours.
    labels = {n.key: n.label for n in graph.nodes}
    spanning = [
        p
        for p in edges
        if labels[p.get("data-from")] == "customers" and "dashboard" in labels[p.get("data-to")]
    ]
    assert [" L" in p.get("d") for p in spanning] == [True]


def test_labels_are_escaped_and_long_ones_shortened(dbt, warehouse):
    (evil,) = add_tables(warehouse, dbt, "evil", 1)
    evil.name = '<script>&"x"'
    evil.save()
    (long,) = add_tables(warehouse, dbt, "a_table_whose_name_goes_on_and_on_and_on", 1)
    link(dbt, [(evil, table("customers")), (table("customers"), long)])
    graph = table_lineage(table=table("customers"), depth=1)

    svg = render_lineage_svg(
        graph, url_for=lambda n: f'/t/{n.id}/?q="><script>alert(1)</script>&x=1'
    )

    assert "<script>" not in svg
    root = parse(svg)
    groups = node_groups(root)
    evil_group = groups[f"table:{evil.pk}"]
    assert [t.text for t in evil_group.iter(f"{SVG}text")][0] == '<script>&"x"'
    assert next(evil_group.iter(f"{SVG}title")).text.startswith('<script>&"x"')
    assert next(evil_group.iter(f"{SVG}a")).get("href") == (
        f'/t/{evil.pk}/?q="><script>alert(1)</script>&x=1'
    )
    label = next(groups[f"table:{long.pk}"].iter(f"{SVG}text")).text
    assert label == "a_table_whose_name_goes_on_…" and len(label) == 28
    assert next(groups[f"table:{long.pk}"].iter(f"{SVG}title")).text.startswith(long.name)


def test_characters_xml_cannot_hold_do_not_break_the_svg(dbt, warehouse):
    (odd,) = add_tables(warehouse, dbt, "odd", 1)
    odd.name = "bell\x07table"
    odd.save()
    link(dbt, [(odd, table("customers"))])

    root = parse(render_lineage_svg(table_lineage(table=table("customers")), url_for=url_for))
    assert next(node_groups(root)[f"table:{odd.pk}"].iter(f"{SVG}text")).text == "bell\ufffdtable"


def test_a_lone_table_draws_one_box_and_no_edges(dbt):
    graph = table_lineage(table=table("customers"), depth=0)
    root = parse(render_lineage_svg(graph, url_for=lambda n: None))

    assert len(node_groups(root)) == 1 and list(root.iter(f"{SVG}a")) == []
    assert [p for p in root.iter(f"{SVG}path") if p.get("class") == "lineage-edge"] == []
    assert root.get("width") == str(2 * PADDING + NODE_WIDTH)


def test_nodes_are_ordered_within_columns_to_avoid_crossings():
    # By name alone, a_far→z_near and z_far→a_near would cross.
    def node(label, level):
        return LineageNode(
            key=f"table:{label}", kind="table", id=0, label=label, sublabel="s", level=level
        )

    focus = node("focus", 0)
    nodes = [node("a_far", -2), node("z_far", -2), node("a_near", -1), node("z_near", -1), focus]
    edges = [
        ("table:a_far", "table:z_near"),
        ("table:z_far", "table:a_near"),
        ("table:a_near", "table:focus"),
        ("table:z_near", "table:focus"),
    ]
    graph = LineageGraph(focus=focus, nodes=nodes, edges=edges, depth=2, truncated=False)
    groups = node_groups(parse(render_lineage_svg(graph, url_for=lambda n: None)))

    def top(label):
        return float(next(groups[f"table:{label}"].iter(f"{SVG}rect")).get("y"))

    assert (top("a_far") < top("z_far")) == (top("z_near") < top("a_near"))
    assert top("focus") == (top("a_near") + top("z_near")) / 2


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(document.domain)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example.com/",
        "//evil.example.com/",
        "/\\evil.example.com/",
    ],
    ids=repr,
)
def test_the_svg_links_only_to_pages_of_the_catalog(href):
    focus = LineageNode(key="table:1", kind="table", id=1, label="orders", sublabel="a", level=0)
    other = LineageNode(key="table:2", kind="table", id=2, label="stg", sublabel="a", level=-1)
    graph = LineageGraph(
        focus=focus, nodes=[focus, other], edges=[("table:2", "table:1")], depth=1, truncated=False
    )
    root = parse(
        render_lineage_svg(graph, url_for=lambda n: href if n.id == 2 else "/catalog/tables/1/")
    )

    assert [a.get("href") for a in root.iter(f"{SVG}a")] == ["/catalog/tables/1/"]
