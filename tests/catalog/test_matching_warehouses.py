"""Matching dbt nodes across several warehouse integrations at once, and the reasons a match
gives: exact database names before the single-database fallback, ambiguity named, the
warehouses a dbt integration is limited to, case-only differences, PostgreSQL's 63-byte
names, tables removed by a warehouse sync, and the nearest table by its columns.

The catalog rows are created in the test database (the real PostgreSQL); how the connectors
fill them from real warehouses is tests/catalog/test_matching_per_warehouse.py's concern."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.models import Column, Database, Schema, Table
from catalog.services.matching import (
    AMBIGUOUS,
    CASE_INSENSITIVE,
    TableIndex,
    candidate_warehouses,
    truncate,
)
from integrations.connectors.dbt_cloud import DbtCloudForm
from integrations.models import Integration, SyncRun
from tests.support.connectors import registered

pytestmark = pytest.mark.django_db

JAFFLE = [("analytics", "customers"), ("analytics", "orders")]
CUSTOMER_COLUMNS = ["customer_id", "first_name", "last_name", "number_of_orders"]


def warehouse(
    name: str, connector: str = "postgres", database: str = "warehouse", tables=JAFFLE
) -> Integration:
    integration = Integration.objects.create(connector=connector, name=name, config={})
    for schema, table in tables:
        add_table(integration, database, schema, table)
    return integration


def add_table(
    integration: Integration, database: str, schema: str, name: str, columns=(), **fields
) -> Table:
    db, _ = Database.objects.get_or_create(integration=integration, name=database)
    sch, _ = Schema.objects.get_or_create(integration=integration, database=db, name=schema)
    table = Table.objects.create(integration=integration, schema=sch, name=name, **fields)
    Column.objects.bulk_create(
        Column(integration=integration, table=table, name=column) for column in columns
    )
    return table


def dbt(**config) -> Integration:
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t", **config},
    )


def match(index: TableIndex, relation: str, **kw):
    return index.match(
        relation_name=relation,
        database=kw.pop("database", ""),
        schema=kw.pop("schema", ""),
        identifier=kw.pop("identifier", ""),
        materialized="table",
        database_map=kw.pop("database_map", {}),
        **kw,
    )


def path(table_id: int | None) -> str:
    table = Table.objects.select_related("schema__database", "integration").get(pk=table_id)
    return f"{table.integration.name}:{table.schema.database.name}.{table.schema.name}.{table.name}"


# -- which warehouses ---------------------------------------------------------------------


def test_candidates_are_every_warehouse_integration_and_never_dbt_itself():
    prod, snow = warehouse("Prod"), warehouse("Snow", "snowflake", "ANALYTICS", tables=[])
    integration = dbt()
    assert candidate_warehouses(integration) == [prod.pk, snow.pk]


def test_a_dbt_integration_limited_to_some_warehouses_matches_only_their_tables():
    warehouse("Prod"), warehouse("Replica"), warehouse("Staging")
    replica, staging = (Integration.objects.get(name=n) for n in ("Replica", "Staging"))
    # Stored as the form stores them (strings); ints are read too, ids no longer there dropped.
    limited = dbt(warehouse_ids=[str(replica.pk), staging.pk, 99999])
    assert candidate_warehouses(limited) == [replica.pk, staging.pk]
    limited.config["warehouse_ids"] = [str(replica.pk)]

    result = match(TableIndex(candidate_warehouses(limited)), '"warehouse"."analytics"."customers"')

    # Prod and Replica hold the same tables: without the limit this is ambiguous.
    assert (result.status, result.rule) == ("matched", "relation_name")
    assert path(result.table_id) == "Replica:warehouse.analytics.customers"


def test_none_ticked_means_every_warehouse():
    prod, replica = warehouse("Prod"), warehouse("Replica")
    assert candidate_warehouses(dbt(warehouse_ids=[])) == [prod.pk, replica.pk]


def test_the_dbt_form_offers_the_warehouse_integrations_by_name_and_stores_the_ticked_ones():
    prod, replica = warehouse("Prod"), warehouse("Replica")
    dbt()  # not a warehouse: not offered
    data = {"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"}

    form = DbtCloudForm(data={**data, "warehouse_ids": [str(replica.pk)]})

    assert form.fields["warehouse_ids"].label == "Only warehouses"
    assert list(form.fields["warehouse_ids"].choices) == [
        (str(prod.pk), "Prod"),
        (str(replica.pk), "Replica"),
    ]
    assert form.is_valid(), form.errors
    assert form.cleaned_data["warehouse_ids"] == [str(replica.pk)]
    assert 'type="checkbox"' in str(form["warehouse_ids"])
    unticked = DbtCloudForm(data=data)
    assert unticked.is_valid() and unticked.cleaned_data["warehouse_ids"] == []
    assert not DbtCloudForm(data={**data, "warehouse_ids": ["99999"]}).is_valid()


# -- several warehouses at once -------------------------------------------------------------


def test_two_warehouses_holding_the_same_tables_make_the_node_ambiguous_naming_both():
    warehouse("Prod"), warehouse("Replica")
    index = TableIndex(candidate_warehouses(dbt()))

    result = match(index, '"warehouse"."analytics"."customers"')

    assert (result.status, result.table_id, result.rule) == ("unmatched", None, AMBIGUOUS)
    assert result.reason.startswith("Ambiguous: warehouse.analytics.customers fits tables in 2 ")
    assert "Prod (warehouse.analytics.customers)" in result.reason
    assert "Replica (warehouse.analytics.customers)" in result.reason
    assert "“Database names”" in result.reason and "“Only warehouses”" in result.reason
    # Both call it `warehouse`: mapping the name cannot separate them, and the reason says so.
    assert "only “Only warehouses” can tell them apart" in result.reason


def test_an_exact_database_name_beats_the_only_database_fallback():
    """Two Postgres integrations, each one database, both with analytics.customers: dbt's
    database name says which, whichever was synced first."""
    prod = warehouse("Prod", database="analytics_prod")
    staging = warehouse("Staging", database="analytics_staging")
    index = TableIndex(candidate_warehouses(dbt()))
    assert index.warehouse_ids == [prod.pk, staging.pk]

    to_staging = match(index, '"analytics_staging"."analytics"."customers"')
    to_prod = match(index, "analytics_prod.analytics.customers")

    assert (to_staging.status, to_staging.rule) == ("matched", "relation_name")
    assert path(to_staging.table_id) == "Staging:analytics_staging.analytics.customers"
    assert path(to_prod.table_id) == "Prod:analytics_prod.analytics.customers"


def test_a_database_neither_warehouse_has_is_ambiguous_until_mapped():
    warehouse("Prod", database="analytics_prod")
    warehouse("Staging", database="analytics_staging")
    index = TableIndex(candidate_warehouses(dbt()))

    guessed = match(index, '"dev"."analytics"."customers"')

    assert (guessed.status, guessed.rule) == ("unmatched", AMBIGUOUS)
    assert "Prod (analytics_prod.analytics.customers)" in guessed.reason
    assert "Staging (analytics_staging.analytics.customers)" in guessed.reason
    assert "“Database names” (dbt_name = warehouse_name, e.g. dev = analytics_prod)" in (
        guessed.reason
    )
    assert "can tell them apart" not in guessed.reason

    mapped = match(
        index, '"dev"."analytics"."customers"', database_map={"dev": "analytics_staging"}
    )
    assert (mapped.status, mapped.rule) == ("matched", "relation_name + database mapping")
    assert path(mapped.table_id) == "Staging:analytics_staging.analytics.customers"


def test_a_single_database_warehouse_still_takes_what_only_it_holds():
    warehouse("Prod", database="analytics_prod")
    warehouse("Staging", database="analytics_staging", tables=[("analytics", "orders")])
    index = TableIndex(candidate_warehouses(dbt()))

    result = match(index, '"dev"."analytics"."customers"')

    assert (result.status, result.rule) == (
        "matched",
        "relation_name + the warehouse's only database",
    )
    assert path(result.table_id) == "Prod:analytics_prod.analytics.customers"


def test_snowflakes_exact_database_beats_a_postgres_that_would_take_anything():
    with registered("upper_wh", "tests.support.upper_connector"):
        warehouse("Pg", database="warehouse", tables=[("jaffle", "customers")])
        snow = warehouse("Snow", "upper_wh", "ANALYTICS", tables=[("JAFFLE", "CUSTOMERS")])
        index = TableIndex(candidate_warehouses(dbt()))

        result = match(index, "ANALYTICS.jaffle.customers")

    assert (result.status, result.rule) == ("matched", "relation_name")
    assert Table.objects.get(pk=result.table_id).integration == snow


def test_an_exact_database_name_with_a_case_slip_beats_the_only_database_fallback():
    """dbt names the database `other`, which only Pgq has, though its table was created
    "Customers": Prod and Staging would take anything as their only database."""
    warehouse("Prod", database="analytics_prod")
    warehouse("Staging", database="analytics_staging")
    warehouse("Pgq", database="other", tables=[("analytics", "Customers")])

    result = match(TableIndex(candidate_warehouses(dbt())), '"other"."analytics"."customers"')

    assert (result.status, result.rule) == ("matched", CASE_INSENSITIVE)
    assert path(result.table_id) == "Pgq:other.analytics.Customers"


def test_a_case_slip_in_two_warehouses_is_ambiguous_too():
    for name in ("Prod", "Replica"):
        warehouse(name, tables=[("analytics", "Customers")])
    result = match(TableIndex(candidate_warehouses(dbt())), '"warehouse"."analytics"."customers"')
    assert (result.status, result.rule) == ("unmatched", AMBIGUOUS)
    assert "Prod (warehouse.analytics.Customers)" in result.reason


# -- quoting and case -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relation", "database_map", "said"),
    [
        ('"warehouse"."analytics"."customers"', {}, ""),
        (
            '"dev"."analytics"."customers"',
            {"dev": "warehouse"},
            "Database dev mapped to warehouse.",
        ),
        (
            '"dev"."analytics"."customers"',
            {},
            "Database dev taken as the warehouse's only database, warehouse.",
        ),
    ],
    ids=["database-as-is", "database-mapped", "the-only-database"],
)
def test_a_quoted_name_that_differs_only_in_case_is_a_labelled_guess_however_the_database_was_found(
    relation, database_map, said
):
    """Postgres keeps a quoted name's case: "customers" is not the table "Customers". The
    catalog still offers it, under its own rule, and says why."""
    warehouse("Prod", tables=[("analytics", "Customers")])
    result = match(TableIndex(candidate_warehouses(dbt())), relation, database_map=database_map)

    assert (result.status, result.rule) == ("matched", CASE_INSENSITIVE)
    assert path(result.table_id) == "Prod:warehouse.analytics.Customers"
    assert "differs only in case from warehouse.analytics.Customers in Prod" in result.reason
    assert "dbt quotes it, and PostgreSQL compares a quoted name as written" in result.reason
    assert said in result.reason


def test_an_unquoted_name_folds_to_lower_case_in_postgres_and_matches_exactly():
    warehouse("Prod")
    result = match(TableIndex(candidate_warehouses(dbt())), "WAREHOUSE.Analytics.CUSTOMERS")
    assert (result.status, result.rule) == ("matched", "relation_name")


def test_an_unquoted_name_against_a_table_created_quoted_is_a_labelled_guess():
    warehouse("Prod", tables=[("analytics", "Customers")])
    result = match(TableIndex(candidate_warehouses(dbt())), "warehouse.analytics.Customers")
    assert (result.status, result.rule) == ("matched", CASE_INSENSITIVE)
    assert "the table's name was created quoted" in result.reason


def test_redshift_folds_quoted_names_too():
    warehouse("Redshift", "redshift", "dev")
    result = match(TableIndex(candidate_warehouses(dbt())), '"dev"."Analytics"."Customers"')
    assert (result.status, result.rule) == ("matched", "relation_name")


def test_several_tables_differing_only_in_case_are_not_guessed_between():
    warehouse("Prod", tables=[("analytics", "Customers"), ("analytics", "CUSTOMERS")])
    result = match(TableIndex(candidate_warehouses(dbt())), '"warehouse"."analytics"."customers"')
    assert (result.status, result.table_id) == ("unmatched", None)
    assert "differ from it only in case" in result.reason


def test_a_case_keeping_warehouse_says_the_nearest_differs_only_in_case_but_does_not_guess():
    with registered("sensitive_wh", "tests.support.sensitive_connector"):
        warehouse("BQ", "sensitive_wh", "proj-a", tables=[("jaffle", "Orders")])
        result = match(TableIndex(candidate_warehouses(dbt())), "`proj-a`.`jaffle`.`orders`")
    assert (result.status, result.candidate) == ("unmatched", "proj-a.jaffle.Orders")
    assert "It differs only in case, and Case-keeping warehouse keeps case" in result.reason


# -- PostgreSQL's 63 bytes ------------------------------------------------------------------

LONG = "customers_with_their_lifetime_value_and_first_and_most_recent_orders"  # 68 bytes


def test_a_name_longer_than_63_bytes_matches_the_table_postgres_truncated_it_to():
    assert len(LONG.encode()) == 68
    short = truncate(LONG, 63)
    assert short == LONG[:63]
    warehouse("Prod", tables=[("analytics", short)])

    result = match(TableIndex(candidate_warehouses(dbt())), f'"warehouse"."analytics"."{LONG}"')

    assert (result.status, result.rule) == ("matched", "relation_name + truncated by PostgreSQL")
    assert path(result.table_id) == f"Prod:warehouse.analytics.{short}"
    assert (
        f"dbt's identifier {LONG} is 68 bytes; PostgreSQL truncates identifiers to 63 bytes, "
        f"so it names {short}."
    ) in result.reason


def test_truncation_never_cuts_a_character_in_half():
    name = "kunden_" + "é" * 40  # 87 bytes; byte 63 falls inside an é
    assert truncate(name, 63) == "kunden_" + "é" * 28
    warehouse("Prod", tables=[("analytics", truncate(name, 63))])
    result = match(TableIndex(candidate_warehouses(dbt())), f'"warehouse"."analytics"."{name}"')
    assert result.status == "matched" and result.rule.endswith("truncated by PostgreSQL")


def test_a_long_name_without_its_truncated_table_is_explained_as_truncated():
    warehouse("Prod")
    result = match(TableIndex(candidate_warehouses(dbt())), f'"warehouse"."analytics"."{LONG}"')
    assert result.status == "unmatched"
    assert f"PostgreSQL truncates identifiers to 63 bytes, so it names {LONG[:63]}." in (
        result.reason
    )


def test_other_warehouses_do_not_truncate():
    with registered("upper_wh", "tests.support.upper_connector"):
        warehouse("Snow", "upper_wh", "ANALYTICS", tables=[("JAFFLE", LONG[:63].upper())])
        result = match(TableIndex(candidate_warehouses(dbt())), f"ANALYTICS.JAFFLE.{LONG}")
    assert result.status == "unmatched" and "truncates" not in result.reason


# -- a table removed by a warehouse sync ----------------------------------------------------


def removed_customers(integration: Integration, **columns) -> tuple[Table, SyncRun]:
    sync = SyncRun.objects.create(
        integration=integration,
        status="succeeded",
        finished_at=datetime(2026, 11, 28, 6, 30, tzinfo=UTC),
    )
    table = Table.objects.select_related("schema").get(integration=integration, name="customers")
    table.removed, table.last_changed_run = True, sync
    table.save()
    return table, sync


def test_a_node_whose_table_was_removed_says_which_table_which_warehouse_and_which_sync():
    prod = warehouse("Prod")
    gone, sync = removed_customers(prod)

    result = match(
        TableIndex(candidate_warehouses(dbt())),
        '"warehouse"."analytics"."customers"',
        previous_table_id=gone.pk,
    )

    assert (result.status, result.table_id) == ("unmatched", None)
    assert (
        "The table it matched before, warehouse.analytics.customers, was removed from Prod by "
        f"sync run #{sync.pk} (finished 2026-11-28 06:30 UTC)."
    ) in result.reason
    assert result.reason.count("was removed") == 1


def test_a_removed_table_of_the_same_name_is_said_without_the_previous_match():
    prod = warehouse("Prod")
    _gone, sync = removed_customers(prod)

    result = match(TableIndex(candidate_warehouses(dbt())), '"warehouse"."analytics"."customers"')

    assert (
        "A table of that name, warehouse.analytics.customers, was removed from Prod by "
        f"sync run #{sync.pk}"
    ) in result.reason


def test_a_node_matched_elsewhere_after_its_table_was_removed_says_so_too():
    prod = warehouse("Prod")
    gone, sync = removed_customers(prod)
    add_table(prod, "warehouse", "marts", "customers")

    result = match(
        TableIndex(candidate_warehouses(dbt())),
        '"warehouse"."marts"."customers"',
        previous_table_id=gone.pk,
    )

    assert (result.status, result.rule) == ("matched", "relation_name")
    assert path(result.table_id) == "Prod:warehouse.marts.customers"
    assert f"was removed from Prod by sync run #{sync.pk}" in result.reason


def test_a_live_previous_table_adds_nothing():
    warehouse("Prod")
    table = Table.objects.get(name="customers")
    result = match(
        TableIndex(candidate_warehouses(dbt())),
        '"warehouse"."analytics"."customers"',
        previous_table_id=table.pk,
    )
    assert (result.status, result.table_id, result.reason) == ("matched", table.pk, "")


# -- the nearest table ------------------------------------------------------------------------


def test_the_nearest_table_is_the_one_holding_the_documented_columns_not_a_similar_name():
    prod = warehouse("Prod", tables=[])
    add_table(prod, "warehouse", "analytics", "customers_archive", columns=["id", "archived_at"])
    add_table(prod, "warehouse", "analytics", "clients", columns=[*CUSTOMER_COLUMNS, "email"])
    index = TableIndex(candidate_warehouses(dbt()))

    by_columns = match(index, '"warehouse"."analytics"."customers"', columns=CUSTOMER_COLUMNS)
    by_name = match(index, '"warehouse"."analytics"."customers"')

    assert by_columns.candidate == "warehouse.analytics.clients"
    assert "Nearest: warehouse.analytics.clients. It has 4 of the 4 documented columns." in (
        by_columns.reason
    )
    assert by_name.candidate == "warehouse.analytics.customers_archive"


def test_a_removed_table_and_its_renamed_successor_by_columns():
    prod = warehouse("Prod", tables=[])
    add_table(prod, "warehouse", "analytics", "customers", columns=CUSTOMER_COLUMNS)
    add_table(prod, "warehouse", "analytics", "customers_old", columns=["legacy_id"])
    add_table(prod, "warehouse", "analytics", "dim_client", columns=CUSTOMER_COLUMNS[:3])
    gone, sync = removed_customers(prod)

    result = match(
        TableIndex(candidate_warehouses(dbt())),
        '"warehouse"."analytics"."customers"',
        columns=[c.upper() for c in CUSTOMER_COLUMNS],  # columns compare without case
        previous_table_id=gone.pk,
    )

    assert result.candidate == "warehouse.analytics.dim_client"
    assert result.reason == (
        "No table warehouse.analytics.customers in the warehouse catalog. The table it matched "
        f"before, warehouse.analytics.customers, was removed from Prod by sync run #{sync.pk} "
        "(finished 2026-11-28 06:30 UTC). Nearest: warehouse.analytics.dim_client. It has 3 of "
        "the 4 documented columns."
    )


def test_fewer_than_half_the_documented_columns_fall_back_to_the_nearest_name():
    prod = warehouse("Prod", tables=[])
    add_table(prod, "warehouse", "analytics", "customers_v2", columns=["id"])
    add_table(prod, "warehouse", "analytics", "people", columns=["customer_id"])
    result = match(
        TableIndex(candidate_warehouses(dbt())),
        '"warehouse"."analytics"."customers"',
        columns=CUSTOMER_COLUMNS,
    )
    assert result.candidate == "warehouse.analytics.customers_v2"


def test_reading_removed_tables_and_columns_costs_one_statement_each_whatever_the_nodes(
    django_assert_num_queries,
):
    prod = warehouse("Prod", tables=[])
    for i in range(20):
        add_table(prod, "warehouse", "analytics", f"t{i}", columns=["a", "b"])
    ids = candidate_warehouses(dbt())
    with django_assert_num_queries(1):
        index = TableIndex(ids)
        for i in range(20):  # matched nodes read nothing more
            assert match(index, f"warehouse.analytics.t{i}", columns=["a"]).status == "matched"
    with django_assert_num_queries(2):  # removed tables, then columns, once
        for i in range(30):
            result = match(index, f"warehouse.analytics.gone{i}", columns=["a", "b"])
            assert result.status == "unmatched" and result.candidate


def test_columns_are_compared_within_the_schema_of_that_name_only():
    prod = warehouse("Prod", tables=[])
    add_table(prod, "warehouse", "marts", "customers_archive", columns=["id"])
    add_table(prod, "warehouse", "marts", "clients", columns=CUSTOMER_COLUMNS)
    index = TableIndex(candidate_warehouses(dbt()))
    # No schema `analytics` anywhere: the nearest name, whatever the columns.
    elsewhere = match(index, '"warehouse"."analytics"."customers"', columns=CUSTOMER_COLUMNS)
    assert elsewhere.candidate == "warehouse.marts.customers_archive"
    assert "no schema named analytics either" in elsewhere.reason
    # The same schema name in another database counts as that schema.
    other_db = match(index, '"dev"."marts"."customers"', columns=CUSTOMER_COLUMNS)
    assert other_db.candidate == "warehouse.marts.clients"
