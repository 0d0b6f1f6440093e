"""Matching dbt nodes to warehouse tables on each warehouse's own naming rules, end to end.

The real jaffle_shop artifacts are renamed as dbt-snowflake, dbt-bigquery and dbt-mysql would
name things (tests/support/adapter_artifacts.py). The warehouse catalog is built by syncing
the connector against its stand-in (fakesnow, the local BigQuery REST stand-in, the real
MariaDB), then `dbt_apply` matches the nodes to what the sync found.
"""

from __future__ import annotations

import secrets

import fakesnow
import pymysql
import pytest
import snowflake.connector

from catalog.models import DbtNode
from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from integrations.services import SyncOutcome, sync_execute
from tests.support import adapter_artifacts
from tests.support.adapter_artifacts import Relation, relations
from tests.support.bigquery_standin import BigQueryStandin, field_json
from tests.support.dbt_fixtures import PROJECT_ID, artifact, finished, job, run

pytestmark = [
    pytest.mark.django_db,
    # fakesnow copies DuckDB results through Arrow and says so on every query.
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
]

MANIFEST = artifact("manifest.json")
RELATIONS = relations(MANIFEST)
BUILT = [
    uid
    for uid, n in MANIFEST["nodes"].items()
    if n["resource_type"] in ("model", "seed", "snapshot")
    and n["config"].get("materialized") != "ephemeral"
]
SOURCES = list(MANIFEST["sources"])


def test_the_fixture_builds_ten_relations_read_by_three_sources():
    assert len(RELATIONS) == len(BUILT) == 10
    assert len(SOURCES) == 3


# -- shared steps --------------------------------------------------------------------------


def synced(integration: Integration) -> Integration:
    assert sync_execute(run=SyncRun.objects.create(integration=integration)) is (
        SyncOutcome.SUCCEEDED
    )
    return integration


def dbt_integration(**config) -> Integration:
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t", **config},
    )


def apply(dbt: Integration, manifest: dict) -> dict:
    from integrations.connectors.dbt_artifacts import parse_artifacts
    from integrations.connectors.dbt_records import Provenance

    dbt.refresh_from_db()
    parsed = parse_artifacts(
        manifest=manifest,
        run_results=artifact("run_results.json"),
        sources=None,
        catalog=None,
        provenance=Provenance(job_id=4021, run_id=9001, finished_at=finished(5)),
        project_id=PROJECT_ID,
    )
    return dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=[job(), run(9001), parsed],
    )


def node(uid: str) -> DbtNode:
    return DbtNode.objects.select_related("table__schema__database").get(unique_id=uid)


def path_of(n: DbtNode) -> tuple[str, str, str]:
    return (n.table.schema.database.name, n.table.schema.name, n.table.name)


def assert_all_matched(expected_path, rule: str) -> None:
    """Every model, seed, snapshot and source matched by `rule`, to `expected_path(uid)`."""
    for uid in BUILT + SOURCES:
        n = node(uid)
        assert n.match_status == "matched", (uid, n.match_reason)
        assert n.match_rule == rule, uid
        assert path_of(n) == expected_path(uid), uid


def source_or_node(uid: str) -> dict:
    return MANIFEST["sources"].get(uid) or MANIFEST["nodes"][uid]


def fixture_name(uid: str) -> str:
    n = source_or_node(uid)
    return n["identifier"] if n["resource_type"] == "source" else n["alias"]


def assert_renamed_orders_unmatched(candidate: str) -> None:
    n = node("model.jaffle_shop.orders")
    assert (n.match_status, n.table) == ("unmatched", None)
    assert n.match_candidate == candidate
    assert f"Nearest: {candidate}." in n.match_reason
    # Only that one: the other nine relations and the sources still match.
    others = DbtNode.objects.filter(unique_id__in=BUILT + SOURCES).exclude(
        unique_id="model.jaffle_shop.orders"
    )
    assert set(others.values_list("match_status", flat=True)) == {"matched"}


# -- Snowflake (fakesnow) ------------------------------------------------------------------

SNOWFLAKE_DB = "ANALYTICS_DB"


def snowflake_warehouse(renamed: dict[str, str] | None = None) -> Integration:
    """ANALYTICS_DB with the jaffle relations created unquoted (stored upper case), synced;
    call inside fakesnow.patch()."""
    renamed = renamed or {}
    conn = snowflake.connector.connect(account="x", user="x", password="x")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {SNOWFLAKE_DB}")
        for schema in sorted({r.schema for r in RELATIONS}):
            cur.execute(f"CREATE SCHEMA {SNOWFLAKE_DB}.{schema}")
        for r in RELATIONS:
            columns = ", ".join(f"{c} VARCHAR" for c in r.columns)
            name = renamed.get(r.name, r.name)
            cur.execute(f"CREATE TABLE {SNOWFLAKE_DB}.{r.schema}.{name} ({columns})")
    conn.close()
    return synced(
        Integration.objects.create(
            connector="snowflake",
            name="snowflake",
            config={
                "account": "myorg-myaccount",
                "user": "CATALOG",
                "auth_method": "password",
                "password": "pw",
                "database_include": [SNOWFLAKE_DB],
            },
        )
    )


@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted-upper"])
def test_snowflake_relation_names_quoted_or_not_match_the_upper_case_tables(quoted):
    with fakesnow.patch():
        snowflake_warehouse()
    manifest = adapter_artifacts.snowflake(MANIFEST, database=SNOWFLAKE_DB, quoted=quoted)
    customers = manifest["nodes"]["model.jaffle_shop.customers"]["relation_name"]
    assert customers == (
        '"ANALYTICS_DB"."ANALYTICS"."CUSTOMERS"' if quoted else "ANALYTICS_DB.analytics.customers"
    )

    counts = apply(dbt_integration(), manifest)

    assert counts["match_report"] == {"matched": 13}
    assert_all_matched(
        lambda uid: (
            SNOWFLAKE_DB,
            source_or_node(uid)["schema"].upper(),
            fixture_name(uid).upper(),
        ),
        "relation_name",
    )


def test_snowflake_lower_case_quoted_names_are_not_folded():
    """`"analytics"."customers"` names a lower-case table, which unquoted DDL never makes."""
    with fakesnow.patch():
        snowflake_warehouse()
    manifest = adapter_artifacts.rewrite(
        MANIFEST,
        lambda n: (SNOWFLAKE_DB, n["schema"], adapter_artifacts.name_of(n)),
        lambda d, s, t: f'"{d}"."{s}"."{t}"',
    )

    apply(dbt_integration(), manifest)

    # Snowflake would say the table does not exist; the catalog falls back to a
    # case-insensitive comparison and says so in the rule.
    n = node("model.jaffle_shop.customers")
    assert (n.match_status, n.match_rule) == ("matched", "case-insensitive name")
    assert path_of(n) == (SNOWFLAKE_DB, "ANALYTICS", "CUSTOMERS")


def test_snowflake_renamed_table_is_unmatched_with_the_nearest_candidate():
    with fakesnow.patch():
        snowflake_warehouse(renamed={"orders": "orders_v2"})

    apply(dbt_integration(), adapter_artifacts.snowflake(MANIFEST, database=SNOWFLAKE_DB))

    assert_renamed_orders_unmatched(f"{SNOWFLAKE_DB}.ANALYTICS.ORDERS_V2")


def test_snowflake_node_in_an_uncatalogued_database_is_not_matched_to_the_catalogued_one():
    """Only ANALYTICS_DB is catalogued (database_include); dbt builds into RAW_DB, another
    database of the same account. Same schema and table names do not make them one table."""
    with fakesnow.patch():
        snowflake_warehouse()

    apply(dbt_integration(), adapter_artifacts.snowflake(MANIFEST, database="RAW_DB"))

    n = node("model.jaffle_shop.customers")
    assert n.match_status == "unmatched", n.match_rule
    assert n.match_candidate == f"{SNOWFLAKE_DB}.ANALYTICS.CUSTOMERS"


# -- BigQuery (the local REST stand-in) ----------------------------------------------------


def bigquery_warehouse(
    standin: BigQueryStandin,
    *,
    project: str,
    seed_project: str,
    renamed: dict[str, str] | None = None,
) -> Integration:
    """The models and snapshot in `project`, the seeds in `seed_project`; synced."""
    renamed = renamed or {}
    for r in RELATIONS:
        where = seed_project if r.resource_type == "seed" else project
        if r.schema not in standin.state.projects.get(where, {}):
            standin.add_dataset(where, r.schema)
        standin.add_table(
            where,
            r.schema,
            renamed.get(r.name, r.name),
            fields=[field_json(c) for c in r.columns],
        )
    return synced(
        Integration.objects.create(
            connector="bigquery",
            name="bigquery",
            config={"projects": [project, seed_project], "api_endpoint": standin.url},
        )
    )


def bigquery_path(project: str, seed_project: str):
    def expected(uid: str) -> tuple[str, str, str]:
        n = source_or_node(uid)
        where = seed_project if n["resource_type"] in ("seed", "source") else project
        return (where, n["schema"], fixture_name(uid))

    return expected


def test_bigquery_backticked_names_match_across_two_projects_keeping_case():
    with BigQueryStandin() as standin:
        bigquery_warehouse(standin, project="jaffle-analytics", seed_project="jaffle-raw")
    manifest = adapter_artifacts.bigquery(
        MANIFEST, project="jaffle-analytics", seed_project="jaffle-raw"
    )
    assert (
        manifest["nodes"]["seed.jaffle_shop.raw_orders"]["relation_name"]
        == "`jaffle-raw`.`analytics`.`raw_orders`"
    )

    counts = apply(dbt_integration(), manifest)

    assert counts["match_report"] == {"matched": 13}
    assert_all_matched(bigquery_path("jaffle-analytics", "jaffle-raw"), "relation_name")


def test_bigquery_renamed_table_is_unmatched_with_the_nearest_candidate():
    with BigQueryStandin() as standin:
        bigquery_warehouse(
            standin,
            project="jaffle-analytics",
            seed_project="jaffle-raw",
            renamed={"orders": "orders_v2"},
        )

    apply(
        dbt_integration(),
        adapter_artifacts.bigquery(MANIFEST, project="jaffle-analytics", seed_project="jaffle-raw"),
    )

    assert_renamed_orders_unmatched("jaffle-analytics.analytics.orders_v2")


def test_bigquery_database_map_sends_two_dbt_projects_to_the_warehouses_projects():
    """dbt names its projects `dev-analytics` and `dev-raw`; the warehouse integration reads
    `acme-analytics` and `acme-raw`. Two databases, so only the admin's map can say which."""
    with BigQueryStandin() as standin:
        bigquery_warehouse(standin, project="acme-analytics", seed_project="acme-raw")
    manifest = adapter_artifacts.bigquery(MANIFEST, project="dev-analytics", seed_project="dev-raw")
    dbt = dbt_integration()

    counts = apply(dbt, manifest)

    assert counts["match_report"] == {"unmatched": 13}
    n = node("model.jaffle_shop.customers")
    assert n.match_candidate == "acme-analytics.analytics.customers"

    dbt.config = {
        **dbt.config,
        "database_map": {"dev-analytics": "acme-analytics", "dev-raw": "acme-raw"},
    }
    dbt.save()
    counts = apply(dbt, manifest)

    assert counts["match_report"] == {"matched": 13}
    assert_all_matched(
        bigquery_path("acme-analytics", "acme-raw"), "relation_name + database mapping"
    )


# -- MySQL / MariaDB (the real server on 127.0.0.1:3306) ----------------------------------


def mysql_run(*statements: str) -> None:
    with (
        pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        for statement in statements:
            cur.execute(statement)


@pytest.fixture
def mysql_prefix():
    """A random prefix for the MySQL databases of one test; they are dropped after it."""
    prefix = f"jm_{secrets.token_hex(4)}_"
    yield prefix
    mysql_run(*(f"DROP DATABASE IF EXISTS `{prefix}{s}`" for s in {r.schema for r in RELATIONS}))


def mysql_warehouse(prefix: str, renamed: dict[str, str] | None = None) -> Integration:
    """One MySQL database per dbt schema (`jm_…_analytics`...), the jaffle tables in them."""
    renamed = renamed or {}
    schemas = sorted({r.schema for r in RELATIONS})
    mysql_run(
        *(f"CREATE DATABASE `{prefix}{s}`" for s in schemas),
        *(mysql_table(prefix, r, renamed.get(r.name, r.name)) for r in RELATIONS),
    )
    return synced(
        Integration.objects.create(
            connector="mysql",
            name="mariadb",
            config={
                "host": "127.0.0.1",
                "port": 3306,
                "user": "root",
                "password": "",
                "catalog_name": "mysql",
                "database_include": [f"{prefix}*"],
            },
        )
    )


def mysql_table(prefix: str, r: Relation, name: str) -> str:
    columns = ", ".join(f"`{c}` VARCHAR(50)" for c in r.columns)
    return f"CREATE TABLE `{prefix}{r.schema}`.`{name}` ({columns})"


@pytest.mark.parametrize(
    ("database", "rule"),
    [
        ("", "database.schema.identifier + the warehouse's only database"),
        (None, "database.schema.identifier + the warehouse's only database"),
        ("mysql", "database.schema.identifier"),
    ],
    ids=["database-empty", "database-is-the-schema", "database-is-the-catalog-name"],
)
def test_mysql_two_part_relation_names_match_through_the_servers_one_database(
    mysql_prefix, database, rule
):
    mysql_warehouse(mysql_prefix)
    manifest = adapter_artifacts.mysql(MANIFEST, schema_prefix=mysql_prefix, database=database)
    assert (
        manifest["nodes"]["model.jaffle_shop.customers"]["relation_name"]
        == f"`{mysql_prefix}analytics`.`customers`"
    )

    counts = apply(dbt_integration(), manifest)

    assert counts["match_report"] == {"matched": 13}
    assert_all_matched(
        lambda uid: ("mysql", mysql_prefix + source_or_node(uid)["schema"], fixture_name(uid)),
        rule,
    )


def test_mysql_renamed_table_is_unmatched_with_the_nearest_candidate(mysql_prefix):
    mysql_warehouse(mysql_prefix, renamed={"orders": "orders_v2"})

    apply(
        dbt_integration(),
        adapter_artifacts.mysql(MANIFEST, schema_prefix=mysql_prefix, database=""),
    )

    assert_renamed_orders_unmatched(f"mysql.{mysql_prefix}analytics.orders_v2")
