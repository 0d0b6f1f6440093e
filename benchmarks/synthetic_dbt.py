"""A synthetic dbt project for benchmarks: a manifest of N models x M columns shaped like a
real one (sources, staging views, intermediate models some of them ephemeral, marts; each
model reading 1-3 earlier ones; descriptions, tags and meta.owner on most; not_null and
unique tests on each model's first column; a few exposures and groups), its run_results
(models built, tests mostly passing, a few failing), and the warehouse relations the
catalog should hold for them. Built from a seeded plan: the same arguments give the same
bytes.

`warehouse_relations` also reads the Tuva manifest: each non-ephemeral model, seed and
snapshot (and each source) becomes the relation its relation_name names, folded the
Postgres way where dbt left a part unquoted.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

PACKAGE = "bench_shop"
DATABASE = "analytics"
RAW_SCHEMA = "raw"
DBT_VERSION = "1.11.16"
GENERATED_AT = "2026-11-27T02:34:29.630266Z"
# (layer, share of the models, schema, materializations to pick from)
LAYERS = (
    ("stg", 0.3, "staging", ("view",)),
    ("int", 0.4, "intermediate", ("view", "table", "table", "ephemeral")),
    ("fct", 0.3, "marts", ("table", "table", "incremental")),
)
SHARE_EPHEMERAL_KEPT = 0.15  # of the intermediate models drawn "ephemeral": ~2% of all
SHARE_MODELS_DESCRIBED = 0.9
SHARE_COLUMNS_DESCRIBED = 0.8
SHARE_COLUMNS_TAGGED = 0.1
SHARE_OWNED = 0.75
SHARE_TESTS_FAILING = 0.02
SHARE_MODELS_FAILING = 0.005
SHARE_UNDOCUMENTED_COLUMN = 0.1  # warehouse tables with one column dbt does not declare
SHARE_MISSING_COLUMN = 0.02  # declared columns the warehouse lacks
SHARE_WAREHOUSE_COMMENTED = 0.1  # tables whose comment a DBA wrote (dbt must not override it)
STEMS = tuple(
    "orders customers events invoices payments sessions products shipments accounts campaigns"
    " tickets subscriptions refunds visits carts".split()
)
TAGS = ("finance", "marketing", "core", "daily", "hourly", "pii", "gdpr", "experimental")
OWNERS = tuple(
    f"{team}@example.com" for team in ("analytics", "finance-data", "growth", "platform", "ops")
)
COLUMN_TYPES = ("bigint", "text", "numeric(12,2)", "timestamp", "boolean", "date", "integer")
COLUMN_STEMS = (
    "amount",
    "status",
    "created_at",
    "updated_at",
    "is_active",
    "label",
    "quantity",
    "valid_from",
    "score",
    "country",
)


# --- The warehouse side -------------------------------------------------------------------


@dataclass
class Relation:
    """A table or view the warehouse catalog holds, named as the warehouse stores it."""

    database: str
    schema: str
    name: str
    kind: str  # table | view
    columns: list[tuple[str, str]]  # (name, data type)
    comment: str = ""


def warehouse_name(text: str, quoted: bool) -> str:
    """What Postgres stores for a name dbt rendered quoted (as written) or not (folded)."""
    return text if quoted else text.lower()


def warehouse_relations(manifest: dict[str, Any]) -> list[Relation]:
    """The relations the enabled, non-ephemeral models, seeds, snapshots and sources name,
    with the columns the manifest declares for them."""
    relations: dict[tuple[str, str, str], Relation] = {}
    nodes = [
        *(manifest.get("nodes") or {}).values(),
        *(manifest.get("sources") or {}).values(),
    ]
    for node in nodes:
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        config = node.get("config") or {}
        if config.get("enabled") is False or config.get("materialized") == "ephemeral":
            continue
        relation_name = node.get("relation_name") or ""
        # dbt quotes all three parts or none of them, as its adapter's quoting config says.
        quoted = relation_name.startswith('"')
        identifier = node.get("identifier") if node["resource_type"] == "source" else None
        key = (
            warehouse_name(node["database"], quoted),
            warehouse_name(node["schema"], quoted),
            warehouse_name(identifier or node.get("alias") or node["name"], quoted),
        )
        if key in relations:
            continue
        kind = "view" if config.get("materialized") == "view" else "table"
        columns = [
            (warehouse_name(c.get("name") or name, quoted), c.get("data_type") or "text")
            for name, c in (node.get("columns") or {}).items()
        ]
        relations[key] = Relation(*key, kind=kind, columns=columns)
    return list(relations.values())


# --- The project --------------------------------------------------------------------------


@dataclass
class ModelPlan:
    index: int
    layer: str
    schema: str
    name: str
    materialized: str
    columns: list[tuple[str, str, str, list[str]]]  # (name, type, description, tags)
    depends_on: list[str]
    description: str = ""
    tags: list[str] = field(default_factory=list)
    owner: str = ""
    group: str = ""

    @property
    def unique_id(self) -> str:
        return f"model.{PACKAGE}.{self.name}"

    @property
    def relation_name(self) -> str:
        if self.materialized == "ephemeral":
            return ""
        return f'"{DATABASE}"."{self.schema}"."{self.name}"'


@dataclass
class Project:
    manifest: dict[str, Any]
    run_results: dict[str, Any]
    relations: list[Relation]
    models: int
    ephemeral: int
    sources: int
    tests: int
    failing_tests: int
    exposures: int

    @property
    def nodes(self) -> int:
        return self.models + self.sources


def plan_project(*, models: int, columns: int, rng: random.Random) -> Project:
    sources = [plan_source(i, columns, rng) for i in range(max(1, models // 10))]
    planned: list[ModelPlan] = []
    for index in range(models):
        planned.append(plan_model(index, models, columns, planned, sources, rng))
    tests, results = plan_tests(planned, rng)
    results.extend(model_results(planned, rng))
    exposures = plan_exposures(planned, rng)
    manifest = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": DBT_VERSION,
            "generated_at": GENERATED_AT,
            "invocation_id": "00000000-0000-4000-8000-000000000001",
            "env": {},
            "project_name": PACKAGE,
            "adapter_type": "postgres",
            "quoting": {"database": True, "schema": True, "identifier": True, "column": None},
        },
        "nodes": {
            **{m.unique_id: model_node(m) for m in planned},
            **{t["unique_id"]: t for t in tests},
        },
        "sources": {s["unique_id"]: s for s in sources},
        "macros": {},
        "docs": {},
        "exposures": {e["unique_id"]: e for e in exposures},
        "metrics": {},
        "groups": {g["unique_id"]: g for g in groups()},
        "selectors": {},
        "disabled": {},
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    }
    manifest["parent_map"], manifest["child_map"] = graph_maps(manifest)
    run_results = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "dbt_version": DBT_VERSION,
            "generated_at": GENERATED_AT,
            "env": {},
        },
        "results": results,
        "elapsed_time": 3600.0,
        "args": {"which": "build"},
    }
    relations = warehouse_relations(manifest)
    adjust_warehouse(relations, rng)
    return Project(
        manifest=manifest,
        run_results=run_results,
        relations=relations,
        models=models,
        ephemeral=sum(1 for m in planned if m.materialized == "ephemeral"),
        sources=len(sources),
        tests=len(tests),
        failing_tests=sum(1 for r in results if r["status"] == "fail"),
        exposures=len(exposures),
    )


def layer_of(index: int, models: int) -> tuple[str, str, tuple[str, ...]]:
    position = index / models
    start = 0.0
    for layer, share, schema, materializations in LAYERS:
        start += share
        if position < start:
            return layer, schema, materializations
    return LAYERS[-1][0], LAYERS[-1][2], LAYERS[-1][3]


def plan_columns(entity: str, count: int, rng: random.Random) -> list[tuple[str, str, str, list]]:
    planned = [(f"{entity}_id", "bigint", f"The {entity}'s key.", [])]
    for j in range(1, count):
        stem = COLUMN_STEMS[j % len(COLUMN_STEMS)]
        name = f"{stem}_{j}" if j >= len(COLUMN_STEMS) else stem
        description = ""
        if rng.random() < SHARE_COLUMNS_DESCRIBED:
            description = f"The {stem.replace('_', ' ')} of the {entity}, as the source reports it."
        tags = ["pii"] if rng.random() < SHARE_COLUMNS_TAGGED else []
        planned.append((name, rng.choice(COLUMN_TYPES), description, tags))
    return planned


def plan_model(
    index: int,
    models: int,
    columns: int,
    earlier: list[ModelPlan],
    sources: list[dict[str, Any]],
    rng: random.Random,
) -> ModelPlan:
    layer, schema, materializations = layer_of(index, models)
    stem = rng.choice(STEMS)
    materialized = rng.choice(materializations)
    if materialized == "ephemeral" and rng.random() > SHARE_EPHEMERAL_KEPT:
        materialized = "view"
    if layer == "stg" or not earlier:
        depends_on = [rng.choice(sources)["unique_id"]]
    else:
        # Mostly the models just before (a layer reads the one under it), now and then any.
        window = earlier[-2000:] if rng.random() < 0.8 else earlier
        depends_on = [
            m.unique_id for m in rng.sample(window, k=min(len(window), rng.randint(1, 3)))
        ]
    model = ModelPlan(
        index=index,
        layer=layer,
        schema=schema,
        name=f"{layer}_{stem}_{index:05d}",
        materialized=materialized,
        columns=plan_columns(stem.rstrip("s"), columns, rng),
        depends_on=depends_on,
    )
    if rng.random() < SHARE_MODELS_DESCRIBED:
        model.description = (
            f"One row per {stem.rstrip('s')}, {layer} layer: cleaned, typed and deduplicated "
            f"from its upstream models. Refreshed by the nightly job."
        )
    model.tags = sorted({layer, *rng.sample(TAGS, k=rng.randint(0, 2))})
    if rng.random() < SHARE_OWNED:
        model.owner = rng.choice(OWNERS)
    if layer == "fct" and rng.random() < 0.5:
        model.group = f"group.{PACKAGE}.{rng.choice(('finance', 'growth', 'operations'))}"
    return model


def checksum(text: str) -> dict[str, str]:
    return {"name": "sha256", "checksum": hashlib.sha256(text.encode()).hexdigest()}


def column_entry(name: str, data_type: str, description: str, tags: list[str]) -> dict:
    return {
        "name": name,
        "description": description,
        "meta": {},
        "data_type": data_type,
        "constraints": [],
        "quote": None,
        "config": {"meta": {}, "tags": tags},
        "tags": tags,
        "granularity": None,
        "doc_blocks": [],
    }


def base_config(materialized: str, tags: list[str], meta: dict, group: str | None) -> dict:
    return {
        "enabled": True,
        "alias": None,
        "schema": None,
        "database": None,
        "tags": tags,
        "meta": meta,
        "group": group,
        "static_analysis": None,
        "materialized": materialized,
        "incremental_strategy": None,
        "batch_size": None,
        "lookback": 1,
        "begin": None,
        "persist_docs": {},
        "post-hook": [],
        "pre-hook": [],
        "quoting": {},
        "column_types": {},
        "full_refresh": None,
        "unique_key": None,
        "on_schema_change": "ignore",
        "on_configuration_change": "apply",
        "grants": {},
        "packages": [],
        "docs": {"show": True, "node_color": None},
        "contract": {"enforced": False, "alias_types": True},
        "event_time": None,
        "concurrent_batches": None,
        "access": "protected",
        "freshness": None,
    }


def model_node(m: ModelPlan) -> dict[str, Any]:
    meta = {"owner": m.owner} if m.owner else {}
    group_name = m.group.rsplit(".", 1)[-1] if m.group else None
    select_list = ",\n        ".join(c[0] for c in m.columns)
    refs = [dep.rsplit(".", 1)[-1] for dep in m.depends_on]
    raw_from = (
        f"{{{{ source('{RAW_SCHEMA}', '{refs[0]}') }}}}"
        if m.depends_on[0].startswith("source.")
        else f"{{{{ ref('{refs[0]}') }}}}"
    )
    raw_code = f"select\n        {select_list}\nfrom {raw_from}"
    joins = "".join(f"\nleft join {{{{ ref('{r}') }}}} using ({m.columns[0][0]})" for r in refs[1:])
    raw_code += joins
    compiled_code = raw_code.replace("{{ ", "").replace(" }}", "")
    return {
        "database": DATABASE,
        "schema": m.schema,
        "name": m.name,
        "resource_type": "model",
        "package_name": PACKAGE,
        "path": f"{m.layer}/{m.name}.sql",
        "original_file_path": f"models/{m.layer}/{m.name}.sql",
        "unique_id": m.unique_id,
        "fqn": [PACKAGE, m.layer, m.name],
        "alias": m.name,
        "checksum": checksum(raw_code),
        "config": base_config(m.materialized, m.tags, meta, group_name),
        "tags": m.tags,
        "description": m.description,
        "columns": {c[0]: column_entry(*c) for c in m.columns},
        "meta": meta,
        "group": group_name,
        "docs": {"show": True, "node_color": None},
        "patch_path": f"{PACKAGE}://models/{m.layer}/schema.yml",
        "build_path": None,
        "unrendered_config": {"materialized": m.materialized},
        "created_at": 1795746701.6330235,
        "relation_name": m.relation_name or None,
        "raw_code": raw_code,
        "doc_blocks": [],
        "language": "sql",
        "refs": [{"name": r, "package": None, "version": None} for r in refs],
        "sources": [],
        "metrics": [],
        "functions": [],
        "depends_on": {"macros": [], "nodes": list(m.depends_on)},
        "compiled_path": f"target/compiled/{PACKAGE}/models/{m.layer}/{m.name}.sql",
        "compiled": True,
        "compiled_code": compiled_code,
        "extra_ctes_injected": True,
        "extra_ctes": [],
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "access": "protected",
        "constraints": [],
        "version": None,
        "latest_version": None,
        "deprecation_date": None,
        "primary_key": [m.columns[0][0]],
        "time_spine": None,
    }


def plan_source(index: int, columns: int, rng: random.Random) -> dict[str, Any]:
    stem = rng.choice(STEMS)
    name = f"{stem}_{index:05d}"
    return {
        "database": DATABASE,
        "schema": RAW_SCHEMA,
        "name": name,
        "resource_type": "source",
        "package_name": PACKAGE,
        "path": "models/sources.yml",
        "original_file_path": "models/sources.yml",
        "unique_id": f"source.{PACKAGE}.{RAW_SCHEMA}.{name}",
        "fqn": [PACKAGE, RAW_SCHEMA, name],
        "source_name": RAW_SCHEMA,
        "source_description": "Loaded by the ingestion service.",
        "loader": "fivetran",
        "identifier": name,
        "quoting": {},
        "loaded_at_field": "_loaded_at",
        "freshness": {"warn_after": {"count": 12, "period": "hour"}, "error_after": {}},
        "external": None,
        "description": f"Raw {stem} as the application writes them.",
        "columns": {
            c[0]: column_entry(*c) for c in plan_columns(stem.rstrip("s"), min(columns, 8), rng)
        },
        "meta": {},
        "source_meta": {"owner": "platform@example.com"},
        "tags": [],
        "config": {"enabled": True, "event_time": None, "freshness": None},
        "patch_path": None,
        "unrendered_config": {},
        "relation_name": f'"{DATABASE}"."{RAW_SCHEMA}"."{name}"',
        "created_at": 1795746701.6330235,
        "unrendered_database": None,
        "unrendered_schema": None,
        "doc_blocks": [],
    }


def test_id(kind: str, model: ModelPlan, column: str) -> str:
    name = f"{kind}_{model.name}_{column}"
    return f"test.{PACKAGE}.{name}.{hashlib.md5(name.encode()).hexdigest()[:10]}"


def test_node(kind: str, model: ModelPlan, column: str) -> dict[str, Any]:
    name = f"{kind}_{model.name}_{column}"
    condition = (
        f"where {column} is null"
        if kind == "not_null"
        else f"group by {column}\nhaving count(*) > 1"
    )
    return {
        "database": DATABASE,
        "schema": "analytics_dbt_test__audit",
        "name": name,
        "resource_type": "test",
        "package_name": PACKAGE,
        "path": f"{name}.sql",
        "original_file_path": f"models/{model.layer}/schema.yml",
        "unique_id": test_id(kind, model, column),
        "fqn": [PACKAGE, model.layer, name],
        "alias": name,
        "checksum": {"name": "none", "checksum": ""},
        "config": {
            "enabled": True,
            "alias": None,
            "schema": "dbt_test__audit",
            "database": None,
            "tags": [],
            "meta": {},
            "group": None,
            "materialized": "test",
            "severity": "ERROR",
            "store_failures": None,
            "where": None,
            "limit": None,
            "fail_calc": "count(*)",
            "warn_if": "!= 0",
            "error_if": "!= 0",
        },
        "tags": [],
        "description": "",
        "columns": {},
        "meta": {},
        "group": None,
        "docs": {"show": True, "node_color": None},
        "patch_path": None,
        "build_path": None,
        "unrendered_config": {},
        "created_at": 1795746701.8129764,
        "relation_name": None,
        "raw_code": f"{{{{ test_{kind}(**_dbt_generic_test_kwargs) }}}}",
        "doc_blocks": [],
        "language": "sql",
        "refs": [{"name": model.name, "package": None, "version": None}],
        "sources": [],
        "metrics": [],
        "functions": [],
        "depends_on": {
            "macros": [f"macro.dbt.test_{kind}", "macro.dbt.get_where_subquery"],
            "nodes": [model.unique_id],
        },
        "compiled_path": f"target/compiled/{PACKAGE}/models/schema.yml/{name}.sql",
        "compiled": True,
        "compiled_code": f"\nselect {column}\nfrom {model.relation_name}\n{condition}\n",
        "extra_ctes_injected": True,
        "extra_ctes": [],
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "column_name": column,
        "file_key_name": f"models.{model.name}",
        "attached_node": model.unique_id,
        "test_metadata": {
            "name": kind,
            "kwargs": {
                "column_name": column,
                "model": f"{{{{ get_where_subquery(ref('{model.name}')) }}}}",
            },
            "namespace": None,
        },
    }


def timing(seconds: float) -> list[dict[str, str]]:
    stamp = f"2026-11-27T02:{int(seconds) % 60:02d}:00.000000Z"
    return [
        {"name": "compile", "started_at": stamp, "completed_at": stamp},
        {"name": "execute", "started_at": stamp, "completed_at": stamp},
    ]


def result(
    unique_id: str, status: str, message: str, failures: int | None, seconds: float
) -> dict[str, Any]:
    return {
        "status": status,
        "timing": timing(seconds),
        "thread_id": "Thread-1 (worker)",
        "execution_time": seconds,
        "adapter_response": {"_message": message, "code": "SELECT", "rows_affected": 1},
        "message": message,
        "failures": failures,
        "unique_id": unique_id,
        "compiled": True,
        "compiled_code": None,
        "relation_name": None,
        "batch_results": None,
    }


def plan_tests(
    models: list[ModelPlan], rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tests, results = [], []
    for model in models:
        if model.materialized == "ephemeral":
            continue
        column = model.columns[0][0]
        for kind in ("not_null", "unique"):
            node = test_node(kind, model, column)
            tests.append(node)
            if rng.random() < SHARE_TESTS_FAILING:
                failures = rng.randint(1, 500)
                message = f"Got {failures} results, configured to fail if != 0"
                results.append(result(node["unique_id"], "fail", message, failures, 0.3))
            else:
                results.append(result(node["unique_id"], "pass", "SELECT 0", 0, 0.2))
    return tests, results


def model_results(models: list[ModelPlan], rng: random.Random) -> list[dict[str, Any]]:
    results = []
    for model in models:
        if model.materialized == "ephemeral":
            continue
        if rng.random() < SHARE_MODELS_FAILING:
            results.append(result(model.unique_id, "error", "relation does not exist", None, 1.0))
        else:
            results.append(result(model.unique_id, "success", "SELECT 1000", None, 2.0))
    return results


def plan_exposures(models: list[ModelPlan], rng: random.Random) -> list[dict[str, Any]]:
    marts = [m for m in models if m.layer == "fct" and m.materialized != "ephemeral"] or models
    exposures = []
    for index in range(max(1, len(models) // 1000)):
        name = f"dashboard_{index:03d}"
        exposures.append(
            {
                "name": name,
                "resource_type": "exposure",
                "package_name": PACKAGE,
                "path": "exposures.yml",
                "original_file_path": "models/exposures.yml",
                "unique_id": f"exposure.{PACKAGE}.{name}",
                "fqn": [PACKAGE, name],
                "type": "dashboard",
                "owner": {"email": rng.choice(OWNERS), "name": "Analytics"},
                "description": "A dashboard the leadership reads on Mondays.",
                "label": name.replace("_", " ").title(),
                "maturity": "high",
                "meta": {},
                "tags": [],
                "config": {"enabled": True, "tags": [], "meta": {}},
                "unrendered_config": {},
                "url": f"https://bi.example.com/{name}",
                "depends_on": {
                    "macros": [],
                    "nodes": [m.unique_id for m in rng.sample(marts, k=min(len(marts), 5))],
                },
                "refs": [],
                "sources": [],
                "metrics": [],
                "created_at": 1795746701.6330235,
            }
        )
    return exposures


def groups() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "resource_type": "group",
            "package_name": PACKAGE,
            "path": "models/groups.yml",
            "original_file_path": "models/groups.yml",
            "unique_id": f"group.{PACKAGE}.{name}",
            "owner": {"email": f"{name}@example.com", "name": name.title()},
            "description": f"The {name} team's models.",
        }
        for name in ("finance", "growth", "operations")
    ]


def graph_maps(manifest: dict[str, Any]) -> tuple[dict[str, list], dict[str, list]]:
    parents: dict[str, list] = {}
    children: dict[str, list] = {uid: [] for uid in manifest["sources"]}
    for section in ("nodes", "exposures"):
        for uid, node in manifest[section].items():
            parents[uid] = list(node["depends_on"]["nodes"])
            children.setdefault(uid, [])
    for uid in manifest["sources"]:
        parents[uid] = []
    for uid, ups in parents.items():
        for up in ups:
            children.setdefault(up, []).append(uid)
    return parents, children


def adjust_warehouse(relations: list[Relation], rng: random.Random) -> None:
    """What makes a warehouse differ from its dbt docs: a loader's extra column here, a
    documented column not built there, a comment a DBA wrote."""
    for relation in relations:
        if rng.random() < SHARE_UNDOCUMENTED_COLUMN:
            relation.columns.append(("_loaded_at", "timestamp with time zone"))
        if len(relation.columns) > 2 and rng.random() < SHARE_MISSING_COLUMN:
            relation.columns.pop(rng.randrange(1, len(relation.columns)))
        if rng.random() < SHARE_WAREHOUSE_COMMENTED:
            relation.comment = "Written by the DBA: do not query during the nightly load."
