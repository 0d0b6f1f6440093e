"""Variants of the real jaffle_shop artifacts that dbt's manifest rules are about, derived in
memory (the fixture files stay as they are): a disabled twin, a model only under
`disabled`, and a model in two versions."""

from __future__ import annotations

import copy
from typing import Any

CUSTOMERS = "model.jaffle_shop.customers"


def with_disabled_twin(manifest: dict, uid: str = CUSTOMERS, **config: Any) -> dict:
    """`uid` stays under nodes; a twin with the same unique_id and another config (a view,
    disabled, another description) sits under `disabled`, as dbt writes a model defined
    twice with one definition disabled."""
    out = copy.deepcopy(manifest)
    twin = copy.deepcopy(out["nodes"][uid])
    twin["config"] = {**twin["config"], "enabled": False, "materialized": "view", **config}
    twin["description"] = "The disabled twin's description."
    twin["original_file_path"] = twin["original_file_path"].replace(".sql", "_legacy.sql")
    disabled = out.get("disabled") or {}
    disabled[uid] = [*disabled.get(uid, []), twin]
    out["disabled"] = disabled
    return out


def only_disabled(manifest: dict, uid: str = CUSTOMERS) -> dict:
    """`uid` moved from nodes to `disabled`: dbt knows the model but does not build it."""
    out = copy.deepcopy(manifest)
    node = out["nodes"].pop(uid)
    node["config"] = {**node["config"], "enabled": False}
    disabled = out.get("disabled") or {}
    disabled[uid] = [node]
    out["disabled"] = disabled
    return out


def version_id(uid: str, version: int | str) -> str:
    return f"{uid}.v{version}"


def versioned(
    manifest: dict,
    uid: str = CUSTOMERS,
    *,
    versions: tuple[int, ...] = (1, 2),
    latest: int = 2,
    tests_on: int = 1,
) -> dict:
    """`uid` as a versioned model: one node per version (`uid.v1`, `uid.v2`), each its own
    relation (`customers_v1`, `customers_v2`), `latest_version` on all. The model's own
    tests test version `tests_on` (dbt's attached_node and `ref(..., version=...)`); every
    other node that read the model reads the latest version, as an unversioned ref does."""
    out = copy.deepcopy(manifest)
    base = out["nodes"].pop(uid)
    name = base["name"]
    for version in versions:
        node = copy.deepcopy(base)
        alias = f"{name}_v{version}"
        node.update(
            unique_id=version_id(uid, version),
            version=version,
            latest_version=latest,
            alias=alias,
            relation_name=f'"{base["database"]}"."{base["schema"]}"."{alias}"',
            fqn=[*base["fqn"], f"v{version}"],
        )
        out["nodes"][node["unique_id"]] = node
    tested, newest = version_id(uid, tests_on), version_id(uid, latest)
    for section in ("nodes", "exposures", "metrics", "semantic_models"):
        for item in (out.get(section) or {}).values():
            depends = item.get("depends_on") or {}
            if uid not in (depends.get("nodes") or []):
                continue
            own_test = item.get("resource_type") == "test" and item.get("attached_node") == uid
            target = tested if own_test else newest
            depends["nodes"] = [target if n == uid else n for n in depends["nodes"]]
            if own_test:
                item["attached_node"] = tested
                kwargs = item["test_metadata"]["kwargs"]
                kwargs["model"] = (
                    f"{{{{ get_where_subquery(ref('{name}', version='{tests_on}')) }}}}"
                )
    return out


def versioned_results(artifact: dict, uid: str = CUSTOMERS, versions=(1, 2)) -> dict:
    """run_results.json (a `results` list) or catalog.json (`nodes` by unique_id) with the
    model's entry repeated for each version: dbt builds every version."""
    out = copy.deepcopy(artifact)
    if "results" in out:
        results = []
        for result in out["results"]:
            if result.get("unique_id") == uid:
                results += [{**result, "unique_id": version_id(uid, v)} for v in versions]
            else:
                results.append(result)
        out["results"] = results
    if uid in (out.get("nodes") or {}):
        entry = out["nodes"].pop(uid)
        for v in versions:
            out["nodes"][version_id(uid, v)] = {
                **entry,
                "unique_id": version_id(uid, v),
                "metadata": {**entry.get("metadata", {}), "name": f"{uid.rsplit('.', 1)[-1]}_v{v}"},
            }
    return out
