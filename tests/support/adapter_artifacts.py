"""The real jaffle_shop manifest as other dbt adapters would have written it.

The fixture was built on Postgres: `"warehouse"."analytics"."customers"`. Each function here
rewrites every relation node (models, seeds, snapshot, sources) the way one adapter names
things: database, schema, alias (or a source's identifier) and relation_name, on a deep copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RELATION_TYPES = ("model", "seed", "snapshot")

Naming = Callable[[dict], tuple[str, str, str]]
Render = Callable[[str, str, str], str]


@dataclass(frozen=True)
class Relation:
    """One table dbt builds, as the fixture names it, with a couple of its columns."""

    resource_type: str
    schema: str
    name: str
    columns: tuple[str, ...]


def relations(manifest: dict) -> list[Relation]:
    """The tables the models (not ephemeral), seeds and snapshot of `manifest` build."""
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in RELATION_TYPES or _ephemeral(node):
            continue
        columns = tuple(list(node["columns"])[:2]) or ("id",)
        found.append(Relation(node["resource_type"], node["schema"], node["alias"], columns))
    return sorted(found, key=lambda r: (r.schema, r.name))


def relation_nodes(manifest: dict) -> Iterator[dict]:
    for node in manifest["nodes"].values():
        if node["resource_type"] in RELATION_TYPES and not _ephemeral(node):
            yield node
    yield from manifest["sources"].values()


def name_of(node: dict) -> str:
    return node["identifier"] if node["resource_type"] == "source" else node["alias"]


def rewrite(manifest: dict, naming: Naming, render: Render) -> dict:
    """A copy of `manifest` whose relation nodes are named by `naming(node)` → (database,
    schema, name) and whose relation_name is `render(database, schema, name)`."""
    derived = copy.deepcopy(manifest)
    for node in relation_nodes(derived):
        database, schema, name = naming(node)
        node["database"], node["schema"] = database, schema
        node["identifier" if node["resource_type"] == "source" else "alias"] = name
        node["relation_name"] = render(database, schema, name)
    return derived


def snowflake(manifest: dict, *, database: str = "ANALYTICS_DB", quoted: bool = False) -> dict:
    """dbt-snowflake. Quoting off (its default): `ANALYTICS_DB.analytics.customers`, which
    Snowflake folds to upper case. Quoting on: the names must be written as stored,
    `"ANALYTICS_DB"."ANALYTICS"."CUSTOMERS"`."""
    if quoted:
        return rewrite(
            manifest,
            lambda n: (database.upper(), n["schema"].upper(), name_of(n).upper()),
            lambda d, s, t: f'"{d}"."{s}"."{t}"',
        )
    return rewrite(
        manifest, lambda n: (database, n["schema"], name_of(n)), lambda d, s, t: f"{d}.{s}.{t}"
    )


def bigquery(manifest: dict, *, project: str, seed_project: str) -> dict:
    """dbt-bigquery: `` `project`.`dataset`.`table` ``, case kept. The seeds (and the sources
    reading them) live in a second project, as when one dbt project spans two."""

    def naming(node: dict) -> tuple[str, str, str]:
        raw = node["resource_type"] in ("seed", "source")
        return (seed_project if raw else project, node["schema"], name_of(node))

    return rewrite(manifest, naming, lambda d, s, t: f"`{d}`.`{s}`.`{t}`")


def mysql(manifest: dict, *, schema_prefix: str, database: str | None = "") -> dict:
    """dbt-mysql: the dbt schema is the MySQL database and relation_name has two parts,
    `` `analytics`.`customers` ``. `database` is what the node says its database is: empty,
    None for "the schema again", or a name such as the catalog's "mysql"."""

    def naming(node: dict) -> tuple[str, str, str]:
        schema = schema_prefix + node["schema"]
        return (schema if database is None else database, schema, name_of(node))

    return rewrite(manifest, naming, lambda _d, s, t: f"`{s}`.`{t}`")


def _ephemeral(node: dict) -> bool:
    """An ephemeral model has no relation: dbt inlines it."""
    return node.get("config", {}).get("materialized") == "ephemeral"
