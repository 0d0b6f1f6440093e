"""The shapes of dbt's artifacts that the parser relies on, checked before it reads them.

Valid JSON is not yet a dbt artifact: `results` may be an object, a status a number, a
node's columns a list. The parser used to read each wrong shape as empty, so a sync
"succeeded" while storing something other than what dbt said. Here each artifact is
checked against the versions dbt has published:
- a version dbt never published, or a document whose top level the parser cannot walk
  (`results` not a list, `nodes` not an object) is refused: the sync fails and the
  catalog keeps what it had;
- an entry or a field of the wrong type is named in a warning on the sync run and read as
  absent (an entry without a usable unique_id or status is not read at all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .base import ConnectorError

# The schema versions dbt has published for each artifact (schemas.getdbt.com), as of
# dbt 1.11: the parser was written against the newest and reads the older ones.
PUBLISHED = {
    "manifest.json": range(1, 13),
    "run_results.json": range(1, 7),
    "sources.json": range(1, 4),
    "catalog.json": range(1, 2),
}
SCHEMA_VERSION = re.compile(r"/v(?P<version>\d+)\.json$")

TEXT = (str,)
TEXT_OR_NULL = (str, type(None))
NUMBER = (int, float)
NUMBER_OR_NULL = (int, float, type(None))
INTEGER_OR_NULL = (int, type(None))

RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "execution_time": NUMBER_OR_NULL,
    "failures": INTEGER_OR_NULL,
    "message": TEXT_OR_NULL,
    "timing": (list,),
    "adapter_response": (dict,),
    "compiled_code": TEXT_OR_NULL,
    "thread_id": TEXT_OR_NULL,
}
FRESHNESS_FIELDS: dict[str, tuple[type, ...]] = {
    "max_loaded_at": TEXT_OR_NULL,
    "snapshotted_at": TEXT_OR_NULL,
    "max_loaded_at_time_ago_in_s": NUMBER_OR_NULL,
    "criteria": (dict,),
    "error": TEXT_OR_NULL,
    "timing": (list,),
    "execution_time": NUMBER_OR_NULL,
}
NODE_FIELDS: dict[str, tuple[type, ...]] = {
    "name": TEXT,
    "resource_type": TEXT,
    "package_name": TEXT,
    "description": TEXT_OR_NULL,
    "tags": (list,),
    "meta": (dict,),
    "config": (dict,),
    "columns": (dict,),
    "depends_on": (dict,),
    "raw_code": TEXT_OR_NULL,
    "compiled_code": TEXT_OR_NULL,
    "database": TEXT_OR_NULL,
    "schema": TEXT_OR_NULL,
    "alias": TEXT_OR_NULL,
    "identifier": TEXT_OR_NULL,
    "relation_name": TEXT_OR_NULL,
    "original_file_path": TEXT_OR_NULL,
    "constraints": (list,),
    "contract": (dict,),
    "access": TEXT_OR_NULL,
    "group": TEXT_OR_NULL,
    "freshness": (dict, type(None)),
}
COLUMN_FIELDS: dict[str, tuple[type, ...]] = {
    "name": TEXT,
    "description": TEXT_OR_NULL,
    "tags": (list,),
    "meta": (dict,),
    "data_type": TEXT_OR_NULL,
    "constraints": (list,),
}
# The manifest's sections the parser walks as objects keyed by unique_id.
MANIFEST_OBJECTS = (
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "groups",
    "semantic_models",
    "disabled",
)


class ArtifactRefused(ConnectorError):
    """An artifact the parser cannot trust: nothing of the run it came with is stored."""


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expected(types: tuple[type, ...]) -> str:
    names = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(t, "null") for t in types))


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    # A boolean is an int to Python, never a count or a time to dbt.
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def refused(name: str, run_id: int | None, what: str) -> ArtifactRefused:
    run = f" of run {run_id}" if run_id is not None else ""
    return ArtifactRefused(
        f"{name}{run}: {what}. This is not a dbt artifact the catalog can read, so nothing "
        "of this run was stored and the catalog keeps what it had."
    )


def check_version(name: str, document: Mapping | None, run_id: int | None) -> list[str]:
    """Refuses a schema version dbt has not published; a document that declares none is
    read as the newest, and said."""
    if not document:
        return []
    metadata = document.get("metadata")
    declared = metadata.get("dbt_schema_version") if isinstance(metadata, dict) else None
    published = PUBLISHED[name]
    found = SCHEMA_VERSION.search(declared) if isinstance(declared, str) else None
    if found is None:
        return [
            f"{name} declares no dbt schema version (metadata.dbt_schema_version): it is read "
            f"as v{published[-1]}."
        ]
    version = int(found["version"])
    if version not in published:
        raise refused(
            name,
            run_id,
            f"it declares dbt schema v{version}, and this catalog reads v{published[0]} to "
            f"v{published[-1]}, the versions dbt has published. Upgrade the catalog to read "
            "a newer dbt",
        )
    return []


def _checked_fields(
    where: str, entry: dict, fields: Mapping[str, tuple[type, ...]], said: list[str]
) -> dict:
    wrong = [f for f, types in fields.items() if f in entry and not _fits(entry[f], types)]
    if not wrong:
        return entry
    for f in wrong:
        said.append(
            f"{where}: {f} is {kind_of(entry[f])}, not {_expected(fields[f])}; it is read as "
            "absent."
        )
    return {k: v for k, v in entry.items() if k not in wrong}


def _checked_results(
    name: str,
    document: Mapping | None,
    run_id: int | None,
    fields: Mapping[str, tuple[type, ...]],
) -> tuple[dict | None, list[str]]:
    """A run_results.json or sources.json with its results checked: entries the parser can
    read, each without its wrongly typed fields."""
    if document is None:
        return None, []
    if not isinstance(document, dict):
        raise refused(name, run_id, f"the document is {kind_of(document)}, not an object")
    said = check_version(name, document, run_id)
    results = document.get("results")
    if results is None:
        return document, said
    if not isinstance(results, list):
        raise refused(name, run_id, f"its results are {kind_of(results)}, not a list")
    kept = []
    for position, entry in enumerate(results):
        if not isinstance(entry, dict):
            said.append(f"{name}: result {position} is {kind_of(entry)}; it is not read.")
            continue
        uid = entry.get("unique_id")
        if not isinstance(uid, str) or not uid:
            said.append(f"{name}: result {position} has no unique_id; it is not read.")
            continue
        status = entry.get("status")
        if "status" in entry and not isinstance(status, str):
            said.append(
                f"{name}: the status of {uid} is {kind_of(status)}, not text; its result is "
                "not read."
            )
            continue
        kept.append(_checked_fields(f"{name}: {uid}", entry, fields, said))
    return {**document, "results": kept}, said


def checked_run_results(document, run_id: int | None = None) -> tuple[dict | None, list[str]]:
    return _checked_results("run_results.json", document, run_id, RESULT_FIELDS)


def checked_sources(document, run_id: int | None = None) -> tuple[dict | None, list[str]]:
    return _checked_results("sources.json", document, run_id, FRESHNESS_FIELDS)


def checked_catalog(document, run_id: int | None = None) -> tuple[dict | None, list[str]]:
    """A catalog.json whose nodes and sources are objects of entries with columns."""
    if document is None:
        return None, []
    name = "catalog.json"
    if not isinstance(document, dict):
        raise refused(name, run_id, f"the document is {kind_of(document)}, not an object")
    said = check_version(name, document, run_id)
    out = dict(document)
    for section in ("nodes", "sources"):
        entries = document.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            raise refused(name, run_id, f"its {section} are {kind_of(entries)}, not an object")
        kept = {}
        for uid, entry in entries.items():
            columns = entry.get("columns") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(columns, dict | None):
                what = (
                    kind_of(entry)
                    if not isinstance(entry, dict)
                    else f"{kind_of(columns)} of columns"
                )
                said.append(f"{name}: {uid} is {what}; its catalog columns are not read.")
                continue
            kept[uid] = entry
        out[section] = kept
    return out, said


def check_manifest_section(
    section: str, value: Any, run_id: int | None, name: str = "manifest.json"
) -> None:
    """Refuses a manifest whose section the parser walks as an object is anything else."""
    if section in MANIFEST_OBJECTS and value is not None and not isinstance(value, dict):
        raise refused(name, run_id, f"its {section} are {kind_of(value)}, not an object")


# User-defined values (meta, config) nest as deep as their authors like; the catalog reads
# this many levels, far more than any meta needs, and well within what its encoders recurse.
MAX_DEPTH = 32


def depth_of(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _shallow_enough(where: str, entry: dict, names: tuple[str, ...], said: list[str]) -> dict:
    deep = [n for n in names if depth_of(entry.get(n)) > MAX_DEPTH]
    for n in deep:
        said.append(f"{where}: {n} nests deeper than {MAX_DEPTH} levels; it is read as absent.")
    return {k: v for k, v in entry.items() if k not in deep} if deep else entry


def checked_node(uid: str, node: dict, said: list[str]) -> dict:
    """A manifest node or source without its wrongly typed or too deeply nested fields (and
    columns)."""
    node = _checked_fields(f"manifest.json: {uid}", node, NODE_FIELDS, said)
    node = _shallow_enough(f"manifest.json: {uid}", node, ("meta", "config"), said)
    columns = node.get("columns")
    if not isinstance(columns, dict):
        return node
    kept = {}
    changed = False
    for key, column in columns.items():
        if not isinstance(column, dict):
            said.append(
                f"manifest.json: column {key} of {uid} is {kind_of(column)}; it is not read."
            )
            changed = True
            continue
        checked = _checked_fields(f"manifest.json: {uid}.{key}", column, COLUMN_FIELDS, said)
        checked = _shallow_enough(f"manifest.json: {uid}.{key}", checked, ("meta",), said)
        changed |= checked is not column
        kept[key] = checked
    return {**node, "columns": kept} if changed else node
