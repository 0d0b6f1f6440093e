"""Matching dbt relations to warehouse tables under each warehouse's naming rules."""

from __future__ import annotations

import pytest

from catalog.models import Database, Schema, Table
from catalog.services.matching import Ident, TableIndex, fold, match_columns, split_relation
from integrations.models import Integration
from tests.support.connectors import registered

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "relation, parts",
    [
        (
            '"warehouse"."analytics"."customers"',
            [("warehouse", True), ("analytics", True), ("customers", True)],
        ),
        ("ANALYTICS.TUVA.PATIENT", [("ANALYTICS", False), ("TUVA", False), ("PATIENT", False)]),
        (
            "`my-project`.`jaffle`.`Orders`",
            [("my-project", True), ("jaffle", True), ("Orders", True)],
        ),
        ('"db"."sch"."we""ird"', [("db", True), ("sch", True), ('we"ird', True)]),
        ('analytics."MixedCase"."T"', [("analytics", False), ("MixedCase", True), ("T", True)]),
    ],
)
def test_relation_names_split_into_quoted_and_bare_parts(relation, parts):
    assert [(p.text, p.quoted) for p in split_relation(relation)] == parts


@pytest.mark.parametrize(
    "ident, case, folded",
    [
        (Ident("Customers", False), "lower", "customers"),
        (Ident("Customers", False), "upper", "CUSTOMERS"),
        (Ident("Customers", False), "sensitive", "Customers"),
        (Ident("Customers", True), "upper", "Customers"),
    ],
)
def test_unquoted_names_fold_the_warehouses_way_and_quoted_ones_stay(ident, case, folded):
    assert fold(ident, case) == folded


def _catalog(connector: str, rows: list[tuple[str, str, str]]) -> Integration:
    integration = Integration.objects.create(connector=connector, name=connector, config={})
    for db, schema, name in rows:
        database, _ = Database.objects.get_or_create(integration=integration, name=db)
        sch, _ = Schema.objects.get_or_create(
            integration=integration, database=database, name=schema
        )
        Table.objects.create(integration=integration, schema=sch, name=name)
    return integration


def _match(index: TableIndex, relation: str, **kw):
    return index.match(
        relation_name=relation,
        database=kw.get("database", ""),
        schema=kw.get("schema", ""),
        identifier=kw.get("identifier", ""),
        materialized="table",
        database_map=kw.get("database_map", {}),
    )


def test_snowflake_style_upper_case_storage_matches_unquoted_dbt_names():
    with registered("upper_wh", "tests.support.upper_connector"):
        wh = _catalog(
            "upper_wh", [("ANALYTICS", "JAFFLE", "CUSTOMERS"), ("ANALYTICS", "JAFFLE", "MixedCase")]
        )
        index = TableIndex([wh.pk])
        unquoted = _match(index, "ANALYTICS.JAFFLE.customers")
        assert unquoted.status == "matched" and unquoted.rule == "relation_name"
        assert _match(index, 'ANALYTICS.JAFFLE."MixedCase"').status == "matched"
        # Quoted lower-case is another object in Snowflake: only the loose rule finds it.
        loose = _match(index, '"ANALYTICS"."JAFFLE"."customers"')
        assert loose.rule == "case-insensitive name"


def test_bigquery_style_names_keep_their_case_and_projects_map():
    with registered("sensitive_wh", "tests.support.sensitive_connector"):
        wh = _catalog(
            "sensitive_wh", [("proj-a", "jaffle", "Orders"), ("proj-b", "jaffle", "orders")]
        )
        index = TableIndex([wh.pk])
        exact = _match(index, "`proj-a`.`jaffle`.`Orders`")
        assert exact.status == "matched" and exact.rule == "relation_name"
        # BigQuery keeps case: another case is another table, never a loose guess.
        assert _match(index, "`proj-a`.`jaffle`.`orders`").status == "unmatched"
        assert _match(index, "`proj-c`.`jaffle`.`ORDERS`").status == "unmatched"
        mapped = _match(
            index, "`dev-project`.`jaffle`.`orders`", database_map={"dev-project": "proj-b"}
        )
        assert mapped.status == "matched" and mapped.rule == "relation_name + database mapping"


def test_a_renamed_table_is_unmatched_with_the_nearest_candidate():
    wh = _catalog(
        "postgres",
        [("warehouse", "analytics", "customers_v2"), ("warehouse", "analytics", "orders")],
    )
    result = _match(TableIndex([wh.pk]), '"warehouse"."analytics"."customers"')
    assert result.status == "unmatched" and result.candidate == "warehouse.analytics.customers_v2"
    assert "Nearest: warehouse.analytics.customers_v2" in result.reason


def test_columns_pair_exactly_first_then_without_case():
    pairs, missing, undocumented = match_columns(
        ["ID", "Name", "gone"], ["id", "name", "extra"], "lower"
    )
    assert (
        pairs == {"ID": "id", "Name": "name"} and missing == ["gone"] and undocumented == ["extra"]
    )
    # BigQuery keeps table names' case but compares column names without it.
    assert match_columns(["Name"], ["name"], "sensitive")[0] == {"Name": "name"}
    # Two columns that differ only by case (quoted in Postgres): the exact one wins.
    pairs, _, undocumented = match_columns(["Name"], ["name", "Name"], "lower")
    assert pairs == {"Name": "Name"} and undocumented == ["name"]
