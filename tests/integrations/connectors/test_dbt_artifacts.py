"""dbt artifacts read into records, against the real jaffle_shop and Tuva artifacts
(tests/fixtures/README.md and tests/fixtures/jaffle_shop/README.md say what they hold)."""

from __future__ import annotations

import copy
import gzip
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.dbt_artifacts import (
    load_artifact,
    parse_artifacts,
    parse_artifacts_from_files,
    parse_timestamp,
)
from integrations.connectors.dbt_records import DbtArtifacts, Provenance
from tests.support.dbt_variants import (
    CUSTOMERS,
    only_disabled,
    versioned,
    versioned_results,
    with_disabled_twin,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JAFFLE = FIXTURES / "jaffle_shop"
TUVA = FIXTURES / "tuva-manifest.json.gz"
PROVENANCE = Provenance(
    job_id=70, run_id=9001, finished_at=datetime(2026, 11, 27, 2, 32, tzinfo=UTC)
)


def explore_url(unique_id: str) -> str:
    return f"https://ab123.us1.dbt.com/explore/1/projects/5/environments/production/details/{unique_id}"


@pytest.fixture(scope="module")
def jaffle() -> dict[str, dict]:
    return {
        name: load_artifact((JAFFLE / f"{name}.json").read_bytes(), name=f"{name}.json", run_id=1)
        for name in ("manifest", "run_results", "sources", "catalog")
    }


def parse(artifacts: dict[str, dict], **overrides) -> DbtArtifacts:
    kwargs = {
        "manifest": artifacts["manifest"],
        "run_results": artifacts["run_results"],
        "sources": artifacts["sources"],
        "catalog": artifacts["catalog"],
        "provenance": PROVENANCE,
        "project_id": 5,
        "explore_url": explore_url,
    }
    kwargs.update(overrides)
    return parse_artifacts(**kwargs)


@pytest.fixture(scope="module")
def parsed(jaffle) -> DbtArtifacts:
    return parse(jaffle)


def by_id(records) -> dict:
    return {record.unique_id: record for record in records}


def data_tests(artifacts: DbtArtifacts) -> list:
    return [t for t in artifacts.tests if t.test_type != "constraint"]


# -- nodes --------------------------------------------------------------------------------


def test_jaffle_shop_has_six_models_three_seeds_one_snapshot_and_three_sources(parsed):
    assert Counter(n.resource_type for n in parsed.nodes) == {
        "model": 6,
        "seed": 3,
        "snapshot": 1,
        "source": 3,
    }
    assert parsed.warnings == ()


def test_model_and_column_descriptions_are_the_manifests(parsed, jaffle):
    nodes = by_id(parsed.nodes)
    for uid in ("model.jaffle_shop.customers", "model.jaffle_shop.orders"):
        documented = jaffle["manifest"]["nodes"][uid]
        assert nodes[uid].description == documented["description"]
        assert {c.name: c.description for c in nodes[uid].columns} == {
            name: column["description"] for name, column in documented["columns"].items()
        }


def test_a_model_is_named_by_its_relation(parsed):
    customers = by_id(parsed.nodes)["model.jaffle_shop.customers"]
    assert (customers.database, customers.schema, customers.identifier) == (
        "warehouse",
        "analytics",
        "customers",
    )
    assert customers.relation_name == '"warehouse"."analytics"."customers"'
    assert customers.materialized == "table"
    assert customers.depends_on == (
        "model.jaffle_shop.stg_customers",
        "model.jaffle_shop.stg_orders",
        "model.jaffle_shop.stg_payments",
    )
    assert "{{ ref('stg_customers') }}" in customers.raw_code
    assert '"warehouse"."analytics"."stg_customers"' in customers.compiled_code
    assert customers.url == explore_url("model.jaffle_shop.customers")
    assert customers.project_id == 5
    assert customers.provenance == PROVENANCE


def test_dim_dates_carries_its_tags_owner_group_access_and_enforced_contract(parsed):
    dim_dates = by_id(parsed.nodes)["model.jaffle_shop.dim_dates"]
    assert dim_dates.tags == ("calendar", "finance")
    assert dim_dates.owner == "finance-analytics@jaffle.example.com"
    assert dim_dates.meta == {"owner": "finance-analytics@jaffle.example.com", "tier": "gold"}
    assert dim_dates.group == "group.jaffle_shop.finance"
    assert dim_dates.access == "public"
    assert dim_dates.schema == "analytics_marts"
    assert dim_dates.contract_enforced is True
    assert [(c["type"], c["name"], c["expression"]) for c in dim_dates.constraints] == [
        ("check", "dim_dates_iso_day_of_week_range", "iso_day_of_week between 1 and 7")
    ]
    columns = {c.name: c for c in dim_dates.columns}
    assert [c["type"] for c in columns["date_day"].constraints] == ["not_null", "primary_key"]
    assert [c["type"] for c in columns["iso_day_of_week"].constraints] == ["not_null"]
    assert columns["is_weekend"].constraints == ()
    assert columns["date_day"].data_type == "date"
    assert columns["date_day"].tags == ("time_spine",)
    assert dim_dates.description.endswith("Contract enforced.\n")  # YAML folded style


def test_upstream_models_have_no_owner_group_or_contract(parsed):
    customers = by_id(parsed.nodes)["model.jaffle_shop.customers"]
    assert (customers.owner, customers.group, customers.tags) == ("", "", ())
    assert customers.access == "protected"
    assert customers.contract_enforced is False


def test_nodes_carry_when_and_how_the_run_built_them(parsed):
    nodes = by_id(parsed.nodes)
    dim_dates = nodes["model.jaffle_shop.dim_dates"]
    assert dim_dates.execution_status == "success"
    assert dim_dates.executed_at == datetime(2026, 11, 27, 2, 31, 56, 299835, tzinfo=UTC)
    assert {n.execution_status for n in parsed.nodes if n.resource_type != "source"} == {"success"}
    # `dbt build` does not run sources; freshness is what they get.
    assert nodes["source.jaffle_shop.jaffle_raw.raw_orders"].executed_at is None


def test_sources_carry_identifier_loader_owner_and_column_tags(parsed):
    raw_customers = by_id(parsed.nodes)["source.jaffle_shop.jaffle_raw.raw_customers"]
    assert raw_customers.materialized == "source"
    assert raw_customers.source_name == "jaffle_raw"
    assert raw_customers.identifier == "raw_customers"
    assert raw_customers.owner == "data-platform@jaffle.example.com"
    assert raw_customers.tags == ("jaffle", "pii", "raw")
    first_name = {c.name: c for c in raw_customers.columns}["first_name"]
    assert first_name.tags == ("pii",)
    assert first_name.meta == {"sensitivity": "pii"}


def test_seeds_and_the_snapshot_have_their_owner_and_materialization(parsed):
    nodes = by_id(parsed.nodes)
    seed = nodes["seed.jaffle_shop.raw_orders"]
    assert (seed.materialized, seed.owner, seed.tags) == (
        "seed",
        "data-platform@jaffle.example.com",
        ("seed", "raw"),
    )
    snapshot = nodes["snapshot.jaffle_shop.raw_orders_snapshot"]
    assert snapshot.materialized == "snapshot"
    assert snapshot.schema == "analytics_snapshots"
    assert snapshot.depends_on == ("source.jaffle_shop.jaffle_raw.raw_orders",)


def test_source_freshness_is_pass_warn_and_error(parsed):
    nodes = by_id(parsed.nodes)
    freshness = {
        uid.rsplit(".", 1)[1]: nodes[uid].freshness for uid in nodes if uid.startswith("source.")
    }
    assert {name: f.status for name, f in freshness.items()} == {
        "raw_customers": "pass",
        "raw_payments": "warn",
        "raw_orders": "error",
    }
    orders = freshness["raw_orders"]
    assert orders.max_loaded_at == datetime(2018, 4, 9, tzinfo=UTC)
    assert orders.snapshotted_at == datetime(2026, 11, 27, 2, 32, 3, 284702, tzinfo=UTC)
    assert orders.age_seconds == pytest.approx(272514723.284702)
    assert orders.criteria["error_after"] == {"count": 24, "period": "hour"}
    assert freshness["raw_payments"].criteria["error_after"] is None
    assert orders.error == ""
    assert by_id(parsed.nodes)["model.jaffle_shop.customers"].freshness is None


def test_a_freshness_runtime_error_keeps_its_message(jaffle):
    sources = copy.deepcopy(jaffle["sources"])
    sources["results"][0] = {
        "unique_id": "source.jaffle_shop.jaffle_raw.raw_orders",
        "error": 'relation "analytics.raw_orders" does not exist',
        "status": "runtime error",
    }
    freshness = by_id(parse(jaffle, sources=sources).nodes)[
        "source.jaffle_shop.jaffle_raw.raw_orders"
    ].freshness
    assert freshness.status == "runtime error"
    assert freshness.error == 'relation "analytics.raw_orders" does not exist'
    assert (freshness.max_loaded_at, freshness.age_seconds) == (None, None)


def test_catalog_columns_follow_the_warehouse_not_the_docs(parsed):
    customers = by_id(parsed.nodes)["model.jaffle_shop.customers"]
    catalog_names = [name for name, _, _ in customers.catalog_columns]
    documented = [c.name for c in customers.columns]
    assert "customer_lifetime_value" in catalog_names
    assert "customer_lifetime_value" not in documented
    assert "total_order_amount" in documented
    assert "total_order_amount" not in catalog_names
    assert customers.catalog_columns[0] == ("customer_id", "integer", 1)
    assert customers.catalog_columns[-1] == ("customer_lifetime_value", "bigint", 7)
    source = by_id(parsed.nodes)["source.jaffle_shop.jaffle_raw.raw_payments"]
    assert [name for name, _, _ in source.catalog_columns] == [
        "id",
        "order_id",
        "payment_method",
        "amount",
    ]


# -- tests --------------------------------------------------------------------------------


def test_the_33_data_tests_carry_their_results(parsed):
    tests = data_tests(parsed)
    assert len(tests) == 33
    assert Counter(t.status for t in tests) == {"pass": 31, "fail": 1, "warn": 1}
    assert {t.test_type for t in tests} == {"generic"}
    failing = next(t for t in tests if t.status == "fail")
    assert failing.name == "not_null_raw_orders_snapshot_dbt_valid_to"
    assert failing.failures == 99
    assert failing.message == "Got 99 results, configured to fail if != 0"
    assert failing.attached_node == "snapshot.jaffle_shop.raw_orders_snapshot"
    assert failing.column_name == "dbt_valid_to"
    assert failing.severity == "error"
    warning = next(t for t in tests if t.status == "warn")
    assert warning.name == "source_unique_jaffle_raw_raw_payments_order_id"
    assert (warning.failures, warning.severity) == (13, "warn")
    assert warning.executed_at == datetime(2026, 11, 27, 2, 31, 54, 89356, tzinfo=UTC)


def test_a_generic_test_names_its_test_column_and_tested_node(parsed):
    tests = by_id(parsed.tests)
    relationships = tests[
        "test.jaffle_shop.relationships_orders_customer_id__customer_id__ref_customers_.c6ec7f58f2"
    ]
    assert relationships.test_name == "relationships"
    assert relationships.attached_node == "model.jaffle_shop.orders"
    assert relationships.column_name == "customer_id"
    assert relationships.depends_on == ("model.jaffle_shop.customers", "model.jaffle_shop.orders")
    assert "select" in relationships.compiled_code.lower()
    assert relationships.url == explore_url(relationships.unique_id)
    assert relationships.provenance == PROVENANCE


def test_source_tests_are_attached_to_the_source_they_test(parsed):
    # dbt leaves attached_node empty for source tests; a relationships test depends on two.
    tests = by_id(parsed.tests)
    relationships = tests[
        "test.jaffle_shop.source_relationships_jaffle_raw_raw_orders_user_id__id__source_jaffle_raw_raw_customers_.0d457de54b"
    ]
    assert relationships.attached_node == "source.jaffle_shop.jaffle_raw.raw_orders"
    source_tests = [t for t in data_tests(parsed) if t.name.startswith("source_")]
    assert len(source_tests) == 8
    assert all(t.attached_node.startswith("source.jaffle_shop.jaffle_raw.") for t in source_tests)


def test_enforced_contract_constraints_become_passing_constraint_tests(parsed):
    constraints = by_id(t for t in parsed.tests if t.test_type == "constraint")
    assert set(constraints) == {
        "constraint.model.jaffle_shop.dim_dates.date_day.not_null",
        "constraint.model.jaffle_shop.dim_dates.date_day.primary_key",
        "constraint.model.jaffle_shop.dim_dates.month_start_date.not_null",
        "constraint.model.jaffle_shop.dim_dates.iso_day_of_week.not_null",
        "constraint.model.jaffle_shop.dim_dates._model.check.dim_dates_iso_day_of_week_range",
    }
    assert len(parsed.tests) == 33 + 5
    for test in constraints.values():
        assert test.attached_node == "model.jaffle_shop.dim_dates"
        assert (test.status, test.severity) == ("pass", "error")
        assert test.executed_at == datetime(2026, 11, 27, 2, 31, 56, 299835, tzinfo=UTC)
    check = constraints[
        "constraint.model.jaffle_shop.dim_dates._model.check.dim_dates_iso_day_of_week_range"
    ]
    assert (check.test_name, check.column_name) == ("check", "")
    assert "iso_day_of_week between 1 and 7" in check.message
    primary_key = constraints["constraint.model.jaffle_shop.dim_dates.date_day.primary_key"]
    assert (primary_key.test_name, primary_key.column_name) == ("primary_key", "date_day")


def test_constraints_of_a_model_that_failed_to_build_are_errors(jaffle):
    run_results = copy.deepcopy(jaffle["run_results"])
    for result in run_results["results"]:
        if result["unique_id"] == "model.jaffle_shop.dim_dates":
            result["status"] = "error"
    constraints = [
        t for t in parse(jaffle, run_results=run_results).tests if t.test_type == "constraint"
    ]
    assert {t.status for t in constraints} == {"error"}


def test_constraints_a_warehouse_does_not_enforce_are_not_reported_as_passing(jaffle):
    manifest = copy.deepcopy(jaffle["manifest"])
    manifest["metadata"]["adapter_type"] = "snowflake"
    constraints = by_id(
        t for t in parse(jaffle, manifest=manifest).tests if t.test_type == "constraint"
    )
    # Snowflake enforces NOT NULL only; a primary key or check is just declared.
    assert constraints["constraint.model.jaffle_shop.dim_dates.date_day.not_null"].status == "pass"
    primary_key = constraints["constraint.model.jaffle_shop.dim_dates.date_day.primary_key"]
    assert primary_key.status == ""
    assert "does not enforce" in primary_key.message


# -- exposures, terms, groups ------------------------------------------------------------


def test_the_exposure_has_its_owner_and_three_upstream_models(parsed):
    (exposure,) = parsed.exposures
    assert exposure.unique_id == "exposure.jaffle_shop.customer_revenue_dashboard"
    assert (exposure.label, exposure.exposure_type, exposure.maturity) == (
        "Customer revenue dashboard",
        "dashboard",
        "high",
    )
    assert (exposure.owner_name, exposure.owner_email) == (
        "Finance Analytics",
        "finance-analytics@jaffle.example.com",
    )
    assert exposure.url == "https://bi.jaffle.example.com/dashboards/customer-revenue"
    assert exposure.depends_on == (
        "model.jaffle_shop.customers",
        "model.jaffle_shop.orders",
        "model.jaffle_shop.dim_dates",
    )
    assert exposure.tags == ("bi", "finance")


def test_metrics_take_dimensions_and_time_grains_from_their_semantic_model(parsed):
    metrics = by_id(t for t in parsed.terms if t.kind == "metric")
    assert set(metrics) == {
        "metric.jaffle_shop.order_total",
        "metric.jaffle_shop.order_count",
        "metric.jaffle_shop.average_order_value",
    }
    order_total = metrics["metric.jaffle_shop.order_total"]
    assert (order_total.label, order_total.term_type) == ("Order total (AUD)", "simple")
    assert order_total.owner == "finance-analytics@jaffle.example.com"
    assert order_total.tags == ("finance",)
    assert order_total.group == "group.jaffle_shop.finance"
    assert [(d["name"], d["type"]) for d in order_total.dimensions] == [
        ("order_date", "time"),
        ("status", "categorical"),
    ]
    assert order_total.time_grains == ("day",)
    assert [m["name"] for m in order_total.measures] == ["order_total_amount"]
    assert order_total.depends_on == ("model.jaffle_shop.orders",)

    ratio = metrics["metric.jaffle_shop.average_order_value"]
    assert ratio.term_type == "ratio"
    assert ratio.time_grains == ("day",)
    assert {d["name"] for d in ratio.dimensions} == {"order_date", "status"}
    assert ratio.depends_on == (
        "model.jaffle_shop.orders",
        "metric.jaffle_shop.order_total",
        "metric.jaffle_shop.order_count",
    )


def test_a_derived_metric_follows_the_metrics_it_references(jaffle):
    # A manifest without input_measures (older dbt): the ratio's numerator and
    # denominator lead to the semantic model.
    manifest = copy.deepcopy(jaffle["manifest"])
    ratio = manifest["metrics"]["metric.jaffle_shop.average_order_value"]
    ratio["type_params"]["input_measures"] = []
    ratio["depends_on"]["nodes"] = []
    term = by_id(parse(jaffle, manifest=manifest).terms)["metric.jaffle_shop.average_order_value"]
    assert term.time_grains == ("day",)
    assert term.depends_on == (
        "model.jaffle_shop.orders",
        "metric.jaffle_shop.order_total",
        "metric.jaffle_shop.order_count",
    )


def test_the_semantic_model_is_a_term_with_dimensions_and_measures(parsed):
    (semantic_model,) = [t for t in parsed.terms if t.kind == "semantic_model"]
    assert semantic_model.unique_id == "semantic_model.jaffle_shop.orders"
    assert semantic_model.group == "group.jaffle_shop.finance"
    assert semantic_model.dimensions[0] == {
        "name": "order_date",
        "type": "time",
        "time_granularity": "day",
        "description": "",
    }
    assert semantic_model.time_grains == ("day",)
    assert [(m["name"], m["agg"], m["expr"]) for m in semantic_model.measures] == [
        ("order_total_amount", "sum", "amount"),
        ("order_count_measure", "count", "order_id"),
    ]
    assert semantic_model.depends_on == ("model.jaffle_shop.orders",)


def test_the_finance_group_has_its_owner(parsed):
    (group,) = parsed.groups
    assert (group.unique_id, group.name) == ("group.jaffle_shop.finance", "finance")
    assert (group.owner_name, group.owner_email) == (
        "Finance Analytics",
        "finance-analytics@jaffle.example.com",
    )
    assert group.description == "Finance analytics team; owns revenue reporting and the calendar."


def test_the_artifacts_carry_provenance_and_the_manifest_time(parsed):
    assert parsed.provenance == PROVENANCE
    assert parsed.project_id == 5
    assert parsed.manifest_generated_at == datetime(2026, 11, 27, 2, 32, 9, 193133, tzinfo=UTC)
    assert {t.provenance for t in parsed.tests} == {PROVENANCE}


# -- partial, odd and broken artifacts -----------------------------------------------------


def test_the_manifest_alone_parses_with_empty_statuses(jaffle):
    artifacts = parse_artifacts(
        manifest=jaffle["manifest"],
        run_results=None,
        sources=None,
        catalog=None,
        provenance=PROVENANCE,
        project_id=None,
    )
    assert len(artifacts.nodes) == 13
    assert {t.status for t in artifacts.tests} == {""}
    assert {t.failures for t in artifacts.tests} == {None}
    assert {
        (n.execution_status, n.executed_at, n.freshness, n.catalog_columns) for n in artifacts.nodes
    } == {("", None, None, ())}
    assert {n.url for n in artifacts.nodes} == {""}
    assert len([t for t in artifacts.tests if t.test_type == "constraint"]) == 5
    assert artifacts.warnings == ()


def test_a_run_result_for_a_node_the_manifest_lacks_is_a_warning(jaffle):
    run_results = copy.deepcopy(jaffle["run_results"])
    run_results["results"].append(
        {"unique_id": "model.jaffle_shop.gone", "status": "success", "timing": []}
    )
    artifacts = parse(jaffle, run_results=run_results)
    assert artifacts.warnings == (
        "run_results.json reports model.jaffle_shop.gone (success), which is not in the manifest.",
    )


def test_a_test_of_a_disabled_model_is_kept_unattached_with_a_warning(jaffle):
    # The model exists only under `disabled` (dbt knows it, does not build it).
    manifest = only_disabled(jaffle["manifest"])
    artifacts = parse(jaffle, manifest=manifest)
    assert "model.jaffle_shop.customers" not in by_id(artifacts.nodes)
    test = by_id(artifacts.tests)["test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1"]
    assert test.attached_node == ""
    assert (
        "Test test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1 is attached to "
        "model.jaffle_shop.customers, which is not in the manifest (disabled?)."
    ) in artifacts.warnings


# -- dbt's manifest rules: disabled twins and versioned models ------------------------------

CUSTOMER_TESTS = (
    "test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1",
    "test.jaffle_shop.not_null_customers_customer_id.5c9bf9911d",
)


def test_a_model_with_a_disabled_twin_is_enabled_as_the_nodes_section_has_it(jaffle, parsed):
    manifest = with_disabled_twin(jaffle["manifest"])
    assert CUSTOMERS in manifest["nodes"] and CUSTOMERS in manifest["disabled"]

    artifacts = parse(jaffle, manifest=manifest)

    customers = by_id(artifacts.nodes)[CUSTOMERS]
    # The enabled definition, not the twin's view and description.
    assert customers == by_id(parsed.nodes)[CUSTOMERS]
    assert customers.materialized == "table"
    assert customers.description.startswith("This table has basic information about a customer")
    tests = by_id(artifacts.tests)
    assert {tests[uid].attached_node for uid in CUSTOMER_TESTS} == {CUSTOMERS}
    assert artifacts.warnings == ()
    assert len(artifacts.nodes) == len(parsed.nodes)


def test_a_disabled_twin_reads_the_same_from_a_file(jaffle, tmp_path):
    manifest = with_disabled_twin(jaffle["manifest"])
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    from_file = parse_file(path, jaffle)
    assert from_file == parse(jaffle, manifest=manifest)
    assert CUSTOMERS in by_id(from_file.nodes)


def test_a_model_only_under_disabled_is_no_node(jaffle, parsed):
    artifacts = parse(jaffle, manifest=only_disabled(jaffle["manifest"]))
    assert CUSTOMERS not in by_id(artifacts.nodes)
    assert len(artifacts.nodes) == len(parsed.nodes) - 1


def versioned_parse(jaffle, **kw) -> DbtArtifacts:
    manifest = versioned(jaffle["manifest"], **kw)
    return parse(
        jaffle,
        manifest=manifest,
        run_results=versioned_results(jaffle["run_results"]),
        catalog=versioned_results(jaffle["catalog"]),
    )


def test_each_version_of_a_model_is_its_own_node_with_its_own_relation(jaffle):
    artifacts = versioned_parse(jaffle)

    nodes = by_id(artifacts.nodes)
    assert CUSTOMERS not in nodes
    v1, v2 = nodes[f"{CUSTOMERS}.v1"], nodes[f"{CUSTOMERS}.v2"]
    assert (v1.name, v1.version, v1.latest_version) == ("customers", "1", "2")
    assert (v2.name, v2.version, v2.latest_version) == ("customers", "2", "2")
    assert v1.relation_name == '"warehouse"."analytics"."customers_v1"'
    assert (v1.identifier, v2.identifier) == ("customers_v1", "customers_v2")
    assert v1.executed and v2.executed and v1.catalogued
    # Unversioned models say so with empty strings, not None.
    assert (
        nodes["model.jaffle_shop.orders"].version,
        nodes["model.jaffle_shop.orders"].latest_version,
    ) == ("", "")
    assert artifacts.warnings == ()


def test_tests_of_a_versioned_model_attach_to_their_version(jaffle):
    tests = by_id(versioned_parse(jaffle, tests_on=1).tests)
    assert {tests[uid].attached_node for uid in CUSTOMER_TESTS} == {f"{CUSTOMERS}.v1"}
    # relationships(to=ref('customers')) on orders reads the latest version.
    relationships = tests[
        "test.jaffle_shop.relationships_orders_customer_id__customer_id__ref_customers_.c6ec7f58f2"
    ]
    assert relationships.attached_node == "model.jaffle_shop.orders"
    assert f"{CUSTOMERS}.v2" in relationships.depends_on


@pytest.mark.parametrize(
    "model, attached",
    [
        ("ref('customers', version='1')", "model.jaffle_shop.customers.v1"),
        ("ref('customers', v=2)", "model.jaffle_shop.customers.v2"),
        ("ref('jaffle_shop', 'customers', version='1')", "model.jaffle_shop.customers.v1"),
        # A ref without a version means the latest version.
        ("ref('customers')", "model.jaffle_shop.customers.v2"),
    ],
)
def test_a_test_without_attached_node_finds_the_version_its_ref_names(jaffle, model, attached):
    manifest = versioned(jaffle["manifest"], tests_on=1)
    test = manifest["nodes"][CUSTOMER_TESTS[0]]
    del test["attached_node"]
    test["depends_on"]["nodes"] = []  # only the ref can say
    test["test_metadata"]["kwargs"]["model"] = f"{{{{ get_where_subquery({model}) }}}}"
    artifacts = parse(jaffle, manifest=manifest, run_results=None, catalog=None)
    assert by_id(artifacts.tests)[CUSTOMER_TESTS[0]].attached_node == attached


def test_without_latest_version_a_bare_ref_means_the_highest_version(jaffle):
    manifest = versioned(jaffle["manifest"], versions=(1, 2, 10), latest=2)
    for version in (1, 2, 10):
        manifest["nodes"][f"{CUSTOMERS}.v{version}"]["latest_version"] = None
    test = manifest["nodes"][CUSTOMER_TESTS[0]]
    del test["attached_node"]
    test["depends_on"]["nodes"] = []
    test["test_metadata"]["kwargs"]["model"] = "{{ get_where_subquery(ref('customers')) }}"
    artifacts = parse(jaffle, manifest=manifest, run_results=None, catalog=None)
    assert by_id(artifacts.tests)[CUSTOMER_TESTS[0]].attached_node == f"{CUSTOMERS}.v10"
    assert by_id(artifacts.nodes)[f"{CUSTOMERS}.v10"].latest_version == ""


def test_versions_written_as_numbers_or_strings_read_alike(jaffle):
    manifest = versioned(jaffle["manifest"])
    manifest["nodes"][f"{CUSTOMERS}.v1"].update(version="1", latest_version=2.0)
    nodes = by_id(parse(jaffle, manifest=manifest, run_results=None, catalog=None).nodes)
    assert (nodes[f"{CUSTOMERS}.v1"].version, nodes[f"{CUSTOMERS}.v1"].latest_version) == (
        "1",
        "2",
    )


def test_versioned_models_read_the_same_from_a_file(jaffle, tmp_path):
    manifest = versioned(with_disabled_twin(jaffle["manifest"], "model.jaffle_shop.orders"))
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    run_results = versioned_results(jaffle["run_results"])
    from_file = parse_file(path, jaffle, run_results=run_results)
    assert from_file == parse(jaffle, manifest=manifest, run_results=run_results)
    assert {f"{CUSTOMERS}.v1", f"{CUSTOMERS}.v2", "model.jaffle_shop.orders"} <= set(
        by_id(from_file.nodes)
    )


def test_many_warnings_of_one_kind_are_summarised(jaffle):
    run_results = copy.deepcopy(jaffle["run_results"])
    run_results["results"] = [
        {"unique_id": f"model.other.m{i}", "status": "success"} for i in range(25)
    ]
    warnings = parse(jaffle, run_results=run_results).warnings
    assert len(warnings) == 11
    assert warnings[-1] == "… and 15 more like the above."


def test_an_empty_manifest_yields_no_records():
    artifacts = parse_artifacts(
        manifest={},
        run_results={"results": [None, {}]},
        sources={},
        catalog={"nodes": None},
        provenance=PROVENANCE,
        project_id=None,
    )
    assert (artifacts.nodes, artifacts.tests, artifacts.terms, artifacts.groups) == ((), (), (), ())
    assert artifacts.manifest_generated_at is None


def test_load_artifact_reads_a_real_artifact():
    raw = (JAFFLE / "run_results.json").read_bytes()
    assert len(load_artifact(raw, name="run_results.json", run_id=1)["results"]) == 44


def test_a_truncated_manifest_is_a_connector_error_that_says_so():
    raw = (JAFFLE / "manifest.json").read_bytes()
    with pytest.raises(ConnectorError) as caught:
        load_artifact(raw[:100_000], name="manifest.json", run_id=9001)
    message = str(caught.value)
    assert message.startswith(
        "manifest.json of dbt Cloud run 9001 is not valid JSON (truncated download?): "
    )
    assert "100,000 bytes received" in message
    assert len(message) < 400  # never the download itself
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "Expecting value"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"<html>502 Bad Gateway</html>", "Expecting value"),
    ],
)
def test_what_is_not_json_is_a_connector_error(raw, reason):
    with pytest.raises(ConnectorError, match=reason):
        load_artifact(raw, name="sources.json", run_id=3)


def test_json_that_is_not_an_object_is_a_connector_error():
    with pytest.raises(ConnectorError, match="expected a JSON object, got a JSON list"):
        load_artifact(b"[1, 2]", name="catalog.json", run_id=3)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-27T02:31:56.464254Z", datetime(2026, 11, 27, 2, 31, 56, 464254, tzinfo=UTC)),
        ("2026-11-27T02:31:56.464254+00:00", datetime(2026, 11, 27, 2, 31, 56, 464254, tzinfo=UTC)),
        ("2026-11-27T02:31:56Z", datetime(2026, 11, 27, 2, 31, 56, tzinfo=UTC)),
        ("2026-11-27 02:31:56+00:00", datetime(2026, 11, 27, 2, 31, 56, tzinfo=UTC)),
        ("2026-11-27T02:31:56", datetime(2026, 11, 27, 2, 31, 56, tzinfo=UTC)),
        ("2026-11-27T02:31:56.46Z", datetime(2026, 11, 27, 2, 31, 56, 460000, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("not a date", None),
    ],
)
def test_timestamps_are_read_tolerantly_and_always_aware(value, expected):
    assert parse_timestamp(value) == expected


# -- a large parse-only manifest -----------------------------------------------------------


@pytest.fixture(scope="module")
def tuva() -> DbtArtifacts:
    manifest = load_artifact(gzip.decompress(TUVA.read_bytes()), name="manifest.json", run_id=2)
    return parse_artifacts(
        manifest=manifest,
        run_results=None,
        sources=None,
        catalog=None,
        provenance=PROVENANCE,
        project_id=None,
    )


def test_the_tuva_manifest_parses_into_models_seeds_and_tests(tuva):
    assert Counter(n.resource_type for n in tuva.nodes) == {"model": 737, "seed": 132}
    models = [n for n in tuva.nodes if n.resource_type == "model"]
    assert Counter(n.materialized for n in models) == {
        "table": 485,
        "view": 189,
        "ephemeral": 48,
        "incremental": 15,
    }
    assert all(n.relation_name == "" for n in models if n.materialized == "ephemeral")
    assert all(n.relation_name for n in models if n.materialized != "ephemeral")
    assert sum(1 for n in models if n.description) == 454
    assert sum(len(n.columns) for n in tuva.nodes) == 5030
    assert tuva.warnings == ()


def test_the_tuva_manifest_keeps_its_enabled_data_tests(tuva):
    # The manifest holds 1,067 test nodes; 16 of them are `enabled: false` (tests of
    # disabled models that dbt still lists under nodes) and are left out.
    assert len(tuva.tests) == 1051
    assert Counter(t.test_type for t in tuva.tests) == {"generic": 1034, "singular": 17}
    assert all(t.attached_node for t in tuva.tests)
    assert {t.status for t in tuva.tests} == {""}
    assert {t.severity for t in tuva.tests} == {"warn", "error"}
    assert Counter(t.test_name for t in tuva.tests)["dbt_utils.unique_combination_of_columns"] > 0


def test_a_parse_only_manifest_has_no_compiled_code(tuva):
    assert {n.compiled_code for n in tuva.nodes} == {""}
    assert all(n.raw_code for n in tuva.nodes if n.resource_type == "model")
    assert (tuva.exposures, tuva.terms, tuva.groups) == ((), (), ())


# -- the manifest read from a file, node by node -------------------------------------------


def parse_file(path, artifacts: dict[str, dict | None], **overrides) -> DbtArtifacts:
    kwargs = {
        "manifest_path": path,
        "run_results": artifacts.get("run_results"),
        "sources": artifacts.get("sources"),
        "catalog": artifacts.get("catalog"),
        "provenance": PROVENANCE,
        "project_id": 5,
        "explore_url": explore_url,
    }
    kwargs.update(overrides)
    return parse_artifacts_from_files(**kwargs)


def test_the_file_parser_gives_the_records_of_the_dict_parser_on_jaffle_shop(jaffle, parsed):
    from_file = parse_file(JAFFLE / "manifest.json", jaffle)
    assert from_file == parsed
    assert [n.unique_id for n in from_file.nodes] == [n.unique_id for n in parsed.nodes]
    assert [t.unique_id for t in from_file.tests] == [t.unique_id for t in parsed.tests]


def test_the_file_parser_reads_an_open_binary_file_too(jaffle, parsed):
    with (JAFFLE / "manifest.json").open("rb") as handle:
        assert parse_file(handle, jaffle) == parsed
    assert parse_file(io.BytesIO((JAFFLE / "manifest.json").read_bytes()), jaffle) == parsed


def test_the_file_parser_drops_disabled_nodes_and_warns_in_the_same_order(jaffle, tmp_path):
    manifest = only_disabled(jaffle["manifest"])
    manifest["nodes"]["model.jaffle_shop.orders"]["config"]["enabled"] = False
    manifest["nodes"]["model.jaffle_shop.stg_orders"]["group"] = "nobody"
    manifest["nodes"]["test.jaffle_shop.not_json"] = "not an object"
    run_results = copy.deepcopy(jaffle["run_results"])
    run_results["results"].append({"unique_id": "model.other.gone", "status": "success"})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    from_dict = parse(jaffle, manifest=manifest, run_results=run_results)
    from_file = parse_file(path, jaffle, run_results=run_results)
    assert from_file == from_dict
    assert len(from_file.warnings) > 2  # group, attached and run_results warnings, in order
    assert "model.jaffle_shop.orders" not in by_id(from_file.nodes)
    assert CUSTOMERS not in by_id(from_file.nodes)


def test_the_file_parser_gives_the_records_of_the_dict_parser_on_tuva(tuva, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes(gzip.decompress(TUVA.read_bytes()))
    from_file = parse_artifacts_from_files(
        manifest_path=path,
        run_results=None,
        sources=None,
        catalog=None,
        provenance=PROVENANCE,
        project_id=None,
    )
    assert from_file == tuva


def test_a_truncated_manifest_file_is_the_same_connector_error(jaffle, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes((JAFFLE / "manifest.json").read_bytes()[:100_000])
    with pytest.raises(ConnectorError) as caught:
        parse_file(path, jaffle)
    message = str(caught.value)
    assert message.startswith(
        "manifest.json of dbt Cloud run 9001 is not valid JSON (truncated download?): "
    )
    assert "100,000 bytes received" in message
    assert len(message) < 400
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "is not valid JSON"),
        (b"<html>502 Bad Gateway</html>", "is not valid JSON"),
        (b'{"nodes": {}} trailing', "is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got a JSON list"),
        (b'"text"', "expected a JSON object, got a JSON str"),
    ],
)
def test_a_manifest_file_that_is_no_json_object_is_a_connector_error(raw, reason, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes(raw)
    with pytest.raises(ConnectorError, match=reason):
        parse_file(path, {})


# -- shapes this reader does not know are said, not swallowed -----------------------------


def test_a_schema_version_dbt_has_not_published_is_refused(jaffle):
    # Issue 12: a version dbt never published is refused, not read as the newest known.
    manifest = copy.deepcopy(jaffle["manifest"])
    manifest["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v13.json"
    with pytest.raises(
        ConnectorError, match="declares dbt schema v13, and this catalog reads v1 to v12"
    ):
        parse(jaffle, manifest=manifest)
    # The published ones are read, older ones too.
    run_results = copy.deepcopy(jaffle["run_results"])
    run_results["metadata"]["dbt_schema_version"] = (
        "https://schemas.getdbt.com/dbt/run-results/v4.json"
    )
    parsed = parse(jaffle, run_results=run_results)
    assert parsed.nodes and not [w for w in parsed.warnings if "schema" in w]


def test_unknown_statuses_are_shown_as_given_with_a_warning(jaffle):
    run_results = copy.deepcopy(jaffle["run_results"])
    run_results["results"][0]["status"] = "reused"
    sources = copy.deepcopy(jaffle["sources"])
    sources["results"][0]["status"] = "stale"
    parsed = parse(jaffle, run_results=run_results, sources=sources)
    uid = run_results["results"][0]["unique_id"]
    assert any(f"'reused' for {uid}" in w for w in parsed.warnings)
    assert any("'stale'" in w and sources["results"][0]["unique_id"] in w for w in parsed.warnings)
    node = next((n for n in parsed.nodes if n.unique_id == uid), None)
    test = next((t for t in parsed.tests if t.unique_id == uid), None)
    assert (node.execution_status if node else test.status) == "reused"


def test_a_result_without_a_status_is_not_taken_for_one(jaffle):
    run_results = copy.deepcopy(jaffle["run_results"])
    result = next(r for r in run_results["results"] if r["unique_id"].startswith("model."))
    del result["status"]
    parsed = parse(jaffle, run_results=run_results)
    node = next(n for n in parsed.nodes if n.unique_id == result["unique_id"])
    assert not node.executed
    assert any("without a status" in w and result["unique_id"] in w for w in parsed.warnings)


def test_read_without_its_manifest_a_run_says_the_same_about_shapes_it_does_not_know(jaffle):
    from integrations.connectors.dbt_artifacts import parse_run_facts

    run_results = copy.deepcopy(jaffle["run_results"])
    result = next(r for r in run_results["results"] if r["unique_id"].startswith("model."))
    del result["status"]
    run_results["results"][-1]["status"] = "reused"
    parsed = parse_run_facts(
        run_results=run_results,
        sources=jaffle["sources"],
        catalog=None,
        provenance=Provenance(job_id=1, run_id=2, finished_at=None),
        project_id=1,
    )
    node = next(n for n in parsed.nodes if n.unique_id == result["unique_id"])
    assert not node.executed
    assert any("without a status" in w and result["unique_id"] in w for w in parsed.warnings)
    assert any("'reused'" in w for w in parsed.warnings)
