"""Valid JSON that is not the dbt artifact it claims to be is refused or named, never read
as empty in silence (integrations/connectors/dbt_shapes.py), through the parser's three entry
points, on variants of the real jaffle_shop artifacts derived in memory."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from integrations.connectors.dbt_artifacts import (
    parse_artifacts,
    parse_artifacts_from_files,
    parse_run_facts,
)
from integrations.connectors.dbt_records import Provenance
from integrations.connectors.dbt_shapes import ArtifactRefused
from tests.support.dbt_fixtures import artifact

PROVENANCE = Provenance(job_id=1, run_id=4242, finished_at=datetime(2026, 11, 27, 5, tzinfo=UTC))
ORDERS = "model.jaffle_shop.orders"


def documents() -> dict:
    return {
        "manifest": artifact("manifest.json"),
        "run_results": artifact("run_results.json"),
        "sources": artifact("sources.json"),
        "catalog": artifact("catalog.json"),
    }


@pytest.fixture(params=["dict", "file", "facts only"])
def read(request, tmp_path):
    """The artifacts read as the connector reads them: whole, with the manifest streamed
    from a file, or without the manifest."""

    def reading(**changed):
        docs = {**documents(), **changed}
        if request.param == "dict":
            return parse_artifacts(**docs, provenance=PROVENANCE, project_id=1)
        if request.param == "file":
            path = tmp_path / "manifest.json"
            path.write_text(json.dumps(docs.pop("manifest")))
            return parse_artifacts_from_files(
                manifest_path=path, **docs, provenance=PROVENANCE, project_id=1
            )
        docs.pop("manifest")
        return parse_run_facts(**docs, provenance=PROVENANCE, project_id=1)

    reading.mode = request.param
    return reading


def test_results_that_are_an_object_are_refused(read):
    run_results = artifact("run_results.json")
    run_results["results"] = {r["unique_id"]: r for r in run_results["results"]}
    with pytest.raises(ArtifactRefused) as refused:
        read(run_results=run_results)
    assert str(refused.value).startswith(
        "run_results.json of run 4242: its results are an object, not a list."
    )
    assert "nothing of this run was stored" in str(refused.value)


def test_freshness_results_that_are_text_are_refused(read):
    sources = artifact("sources.json")
    sources["results"] = "pass"
    with pytest.raises(ArtifactRefused, match="sources.json of run 4242: its results are text"):
        read(sources=sources)


def test_catalog_nodes_that_are_a_list_are_refused(read):
    catalog = artifact("catalog.json")
    catalog["nodes"] = list(catalog["nodes"].values())
    with pytest.raises(ArtifactRefused, match="catalog.json of run 4242: its nodes are a list"):
        read(catalog=catalog)


def test_wrongly_typed_result_fields_are_named_and_read_as_absent(read):
    run_results = artifact("run_results.json")
    first, second, third = run_results["results"][:3]
    first["execution_time"] = "fast"
    second["status"] = 3
    third["failures"] = True
    parsed = read(run_results=run_results)
    said = "\n".join(parsed.warnings)
    assert f"run_results.json: {first['unique_id']}: execution_time is text, not a number" in said
    assert f"the status of {second['unique_id']} is a number, not text; its result is not" in said
    assert f"{third['unique_id']}: failures is a boolean, not a number or null" in said
    records = {r.unique_id: r for r in [*parsed.nodes, *parsed.tests]}
    assert records[first["unique_id"]].execution_time is None  # not a made-up value
    assert second["unique_id"] not in records or not records[second["unique_id"]].executed


def test_a_result_without_a_unique_id_is_named_and_not_read(read):
    run_results = artifact("run_results.json")
    run_results["results"][0].pop("unique_id")
    run_results["results"].append("a stray string")
    said = "\n".join(read(run_results=run_results).warnings)
    assert "run_results.json: result 0 has no unique_id; it is not read." in said
    assert "is text; it is not read." in said


def test_a_document_without_a_schema_version_is_read_as_the_newest_and_said(read):
    run_results = artifact("run_results.json")
    del run_results["metadata"]["dbt_schema_version"]
    said = read(run_results=run_results).warnings
    assert any("run_results.json declares no dbt schema version" in w for w in said)


def test_manifest_sections_of_the_wrong_type_are_refused(read):
    if read.mode == "facts only":
        pytest.skip("no manifest is read")
    manifest = artifact("manifest.json")
    manifest["nodes"] = list(manifest["nodes"].values())
    with pytest.raises(ArtifactRefused, match="manifest.json of run 4242: its nodes are a list"):
        read(manifest=manifest)
    manifest = artifact("manifest.json")
    manifest["exposures"] = "none"
    with pytest.raises(ArtifactRefused, match="its exposures are text, not an object"):
        read(manifest=manifest)


def test_wrongly_typed_node_fields_are_named_and_read_as_absent(read):
    if read.mode == "facts only":
        pytest.skip("no manifest is read")
    manifest = artifact("manifest.json")
    orders = manifest["nodes"][ORDERS]
    orders["description"] = 5
    orders["tags"] = "finance"
    orders["columns"]["order_id"] = "the key"
    orders["columns"]["amount"]["description"] = ["Total"]
    parsed = read(manifest=manifest)
    said = "\n".join(parsed.warnings)
    assert f"manifest.json: {ORDERS}: description is a number, not text or null" in said
    assert f"manifest.json: {ORDERS}: tags is text, not a list" in said
    assert f"manifest.json: column order_id of {ORDERS} is text; it is not read." in said
    assert f"manifest.json: {ORDERS}.amount: description is a list" in said
    node = next(n for n in parsed.nodes if n.unique_id == ORDERS)
    assert node.description == "" and node.tags == ()
    columns = {c.name: c for c in node.columns}
    assert "order_id" not in columns and columns["amount"].description == ""
    # The rest of the project is read as dbt wrote it.
    customers = next(n for n in parsed.nodes if n.unique_id == "model.jaffle_shop.customers")
    assert customers.description == manifest["nodes"]["model.jaffle_shop.customers"]["description"]


def test_the_real_artifacts_raise_no_shape_warning(read):
    parsed = read()
    assert [w for w in parsed.warnings if " is " in w and ", not " in w] == []
    assert copy.deepcopy(parsed.nodes)  # read whole


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"deeper": value}
    return value


def test_an_artifact_nested_past_what_python_reads_is_refused_with_that_reason():
    from integrations.connectors.base import ConnectorError
    from integrations.connectors.dbt_artifacts import load_artifact

    # Written as text: Python's own encoder cannot write what is this deep either.
    deep = '{"deeper": ' * 5000 + "{}" + "}" * 5000
    with pytest.raises(ConnectorError, match="nests its values deeper than the catalog reads"):
        load_artifact(
            f'{{"metadata": {{}}, "results": [{deep}]}}', name="run_results.json", run_id=4242
        )


def test_a_streamed_manifest_with_a_meta_thousands_deep_is_read_without_it(tmp_path):
    deep = '{"deeper": ' * 5000 + "{}" + "}" * 5000
    manifest = artifact("manifest.json")
    manifest["nodes"][ORDERS]["meta"] = {"PLACEHOLDER": 1}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest).replace('{"PLACEHOLDER": 1}', deep, 1))
    parsed = parse_artifacts_from_files(
        manifest_path=path,
        run_results=None,
        sources=None,
        catalog=None,
        provenance=PROVENANCE,
        project_id=1,
    )
    assert any(f"{ORDERS}: meta nests deeper than 32 levels" in w for w in parsed.warnings)
    assert next(n for n in parsed.nodes if n.unique_id == ORDERS).meta == {}


def test_a_meta_nested_too_deep_is_named_and_read_as_absent(read):
    if read.mode == "facts only":
        pytest.skip("no manifest is read")
    manifest = artifact("manifest.json")
    manifest["nodes"][ORDERS]["meta"] = nested(100)
    manifest["nodes"][ORDERS]["columns"]["amount"]["meta"] = nested(100)
    parsed = read(manifest=manifest)
    said = "\n".join(parsed.warnings)
    assert f"manifest.json: {ORDERS}: meta nests deeper than 32 levels" in said
    assert f"manifest.json: {ORDERS}.amount: meta nests deeper than 32 levels" in said
    orders = next(n for n in parsed.nodes if n.unique_id == ORDERS)
    assert orders.meta == {} and orders.description  # the rest of it is read
