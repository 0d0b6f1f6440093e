"""What exists in each dbt project and how it is defined, from the project's newest
manifest: groups, nodes, tests, exposures and terms. Nothing here says what a run did
(job_facts.py does): a manifest is written whole by every command, whatever it ran."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from ...descriptions import DescriptionCutter
from ...models import DbtExposure, DbtGroup, DbtNode, DbtTerm, DbtTest
from .job_facts import node_fields, test_fields
from .upsert import Counts, jsonable, upsert

# A test's result and compiled code: job_facts.py fills them from the runs that produced them.
TEST_RESULT_FIELDS = (
    "status",
    "failures",
    "message",
    "executed_at",
    "provenance",
    "executed",
    "compiled_code",
)


def newest_manifests(artifacts) -> dict[Any, Any]:
    """Per project, the artifacts of the run that finished last (artifacts come sorted,
    oldest first)."""
    newest: dict[Any, Any] = {}
    for a in artifacts:
        if not a.facts_only:
            newest[a.project_id] = a
    return newest


def declared_ids(newest: dict) -> set[str]:
    """The unique_ids of the nodes and tests the manifests declare."""
    return {
        uid
        for a in newest.values()
        for uid in (*(n.unique_id for n in a.nodes), *(t.unique_id for t in a.tests))
    }


def removed_now(integration, newest: dict) -> set[str]:
    """The live nodes and tests that their project's newest manifest no longer declares."""
    return _alive(integration, (DbtNode, DbtTest), set(newest)) - declared_ids(newest)


def _newer(existing: dict, wanted: dict) -> bool:
    """Keep a definition that a newer manifest gave."""
    have, incoming = existing.get("fact_finished_at"), wanted.get("fact_finished_at")
    return have is not None and incoming is not None and have > incoming


# What the runs said of a node or test (job_facts.py), written with its definition.
NODE_FACT_FIELDS = tuple(node_fields({}, ""))
TEST_FACT_FIELDS = tuple(test_fields({}, ""))


@dataclass
class Declared:
    """What the manifests declare, as the catalog's rows want it, by unique_id."""

    projects: set
    groups: dict[str, dict] = field(default_factory=dict)
    nodes: dict[str, dict] = field(default_factory=dict)
    tests: dict[str, dict] = field(default_factory=dict)
    exposures: dict[str, dict] = field(default_factory=dict)
    terms: dict[str, dict] = field(default_factory=dict)


def values_of(newest: dict, jobs: dict, runs: dict, facts: dict, warn) -> Declared:
    """The definitions of each project's newest manifest (`newest_manifests`), each node
    and test with the newest facts (`job_facts.current`) of what it declares."""
    cut = _cutter(warn)
    found = Declared(projects=set(newest))

    def keep(model, into: dict, uid: str, values: dict) -> None:
        if _fits(model, uid, values, warn):
            into[uid] = cut(values, uid)

    for project_id, a in newest.items():
        fact = _fact(a.provenance, jobs, runs, project_id)
        for g in a.groups:
            keep(DbtGroup, found.groups, g.unique_id, {**jsonable(g), "project_id": project_id})
        for n in a.nodes:
            values = {**node_values(n), **fact, **node_fields(facts, n.unique_id)}
            keep(DbtNode, found.nodes, n.unique_id, values)
        for t in a.tests:
            values = {k: v for k, v in jsonable(t).items() if k not in TEST_RESULT_FIELDS}
            values = {**values, **fact, **test_fields(facts, t.unique_id)}
            keep(DbtTest, found.tests, t.unique_id, values)
        for e in a.exposures:
            values = {**jsonable(e), "project_id": project_id}
            keep(DbtExposure, found.exposures, e.unique_id, values)
        for term in a.terms:
            values = jsonable(term)
            values["group_unique_id"] = values.pop("group")
            values["project_id"] = project_id
            keep(DbtTerm, found.terms, term.unique_id, values)
    return found


# Values that say which object this is, or where it lives: cut, they would name another.
IDENTITY = frozenset(
    {"unique_id", "name", "database", "schema", "identifier", "relation_name", "package_name"}
)


def _text_limits(model) -> dict[str, int]:
    return {
        f.attname: f.max_length
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField) and f.max_length
    }


def _fits(model, uid: str, values: dict, warn: Callable[[str], None]) -> bool:
    """Whether the object's values fit the catalog's columns: an identity that does not
    leaves the object out, other text is cut; each said in a warning, never a failed write."""
    limits = _text_limits(model)
    for name, value in (("unique_id", uid), *values.items()):
        limit = limits.get(name)
        if limit is None or not isinstance(value, str) or len(value) <= limit:
            continue
        said = (
            f"dbt's {name} of {uid[:200]} is {len(value):,} characters, more than the "
            f"catalog keeps ({limit})"
        )
        if name in IDENTITY:
            warn(f"{said}: it is not stored.")
            return False
        warn(f"{said}: it is cut there.")
        values[name] = value[:limit]
    return True


def store(
    integration, declared: Declared, counts: Counts
) -> Callable[[Callable[[str], dict]], None] | None:
    """Write what the manifests declare (`values_of`); objects a project's newest manifest
    no longer declares are flagged removed.

    The tests are not written yet: the function returned writes them once the nodes are
    matched, each with its node and table (`link(attached_node)`), so that a new test is
    written once (None when no manifest was read)."""
    if not declared.projects:
        return None
    projects = declared.projects
    groups, nodes, tests = declared.groups, declared.nodes, declared.tests
    exposures, terms = declared.exposures, declared.terms

    def removable(row: dict) -> bool:
        return row.get("project_id") in projects

    def write(model, desired: dict, kind: str, skip=None, still_written=()) -> dict:
        return upsert(
            model,
            integration=integration,
            desired=desired,
            key="unique_id",
            counts=counts,
            kind=kind,
            skip=skip,
            still_written=still_written,
            removable=removable,
        )

    group_ids = write(DbtGroup, groups, "group")
    for values in [*nodes.values(), *terms.values()]:
        values["group_id"] = group_ids.get(values.pop("group_unique_id") or "")
    # Nodes and tests keep a definition a newer manifest gave, not the facts beside it;
    # exposures and terms do not say which run they came from.
    write(DbtNode, nodes, "node", _newer, NODE_FACT_FIELDS)
    write(DbtExposure, exposures, "exposure")
    write(DbtTerm, terms, "term")

    def write_tests(link: Callable[[str], dict]) -> None:
        for values in tests.values():
            values.update(link(values["attached_node"]))
        write(DbtTest, tests, "test", _newer, (*TEST_FACT_FIELDS, *TEST_LINK_FIELDS))
        tests.clear()

    return write_tests


TEST_LINK_FIELDS = ("node_id", "table_id")


def _alive(integration, models, projects: set) -> set[str]:
    found: set[str] = set()
    for model in models:
        found |= set(
            model.objects.filter(
                integration=integration, removed=False, project_id__in=projects
            ).values_list("unique_id", flat=True)
        )
    return found


def _cutter(warn: Callable[[str], None]) -> Callable[[dict, str], dict]:
    """Cuts the description of an object's values (and of its columns') at the catalog's
    limit, with a warning naming it: the sync goes on, nothing is cut silently."""
    cut = DescriptionCutter(warn)

    def cut_values(values: dict, unique_id: str) -> dict:
        values["description"] = cut(values["description"], what=f"dbt description of {unique_id}")
        for column in values.get("columns") or ():
            if column.get("description"):
                what = f"dbt description of {unique_id}.{column['name']}"
                column["description"] = cut(column["description"], what=what)
        return values

    return cut_values


def _fact(provenance, jobs: dict, runs: dict, project_id) -> dict[str, Any]:
    """Which manifest a definition came from, as the catalog's rows name it."""
    return {
        "job_id": jobs.get(provenance.job_id),
        "run_id": runs.get(provenance.run_id),
        "fact_finished_at": provenance.finished_at,
        "project_id": project_id,
    }


def node_values(n) -> dict[str, Any]:
    return {
        "resource_type": n.resource_type,
        "name": n.name,
        "package_name": n.package_name,
        "original_file_path": n.original_file_path,
        "database": n.database,
        "schema": n.schema,
        "identifier": n.identifier,
        "relation_name": n.relation_name,
        "materialized": n.materialized,
        "description": n.description,
        "tags": list(n.tags),
        "meta": jsonable(n.meta),
        "owner": n.owner,
        "access": n.access,
        "group_unique_id": n.group,
        "contract_enforced": n.contract_enforced,
        "constraints": jsonable(n.constraints),
        "columns": jsonable(n.columns),
        "depends_on": list(n.depends_on),
        "raw_code": n.raw_code,
        "url": n.url,
        "loader": n.loader,
        "source_name": n.source_name,
        "version": n.version,
        "latest_version": n.latest_version,
    }
