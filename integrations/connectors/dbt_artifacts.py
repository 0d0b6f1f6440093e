"""dbt artifacts (manifest, run_results, sources, catalog) read into the dbt records.

Pure functions: no Django models, no network. The dbt Cloud connector downloads the
artifacts of a run and hands them here; `catalog.services.dbt` applies what comes out.

Manifests differ between dbt versions (and a `dbt parse` manifest lacks compiled code),
so every key is read with a default: an odd node becomes a warning, never a KeyError.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import ijson

from . import dbt_shapes as shapes
from .base import ConnectorError
from .dbt_records import (
    DbtArtifacts,
    DbtColumnRecord,
    DbtExposureRecord,
    DbtGroupRecord,
    DbtNodeRecord,
    DbtTermRecord,
    DbtTestRecord,
    FreshnessRecord,
    Provenance,
    TestOutcome,
    constraint_message,
)

RELATION_TYPES = ("model", "seed", "snapshot")
# The top-level manifest sections whose unique_ids a run_results entry may name.
MANIFEST_SECTIONS = (
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
    "functions",
)
GRAIN_ORDER = (
    "nanosecond",
    "microsecond",
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
)
# Constraint types each warehouse really enforces (dbt adapters' CONSTRAINT_SUPPORT, where
# ENFORCED). Elsewhere a constraint is only declared: Snowflake accepts a primary key and
# never checks it, so a successful build proves nothing about it.
ENFORCED_CONSTRAINTS = {
    "postgres": {"not_null", "unique", "primary_key", "foreign_key", "check"},
    "duckdb": {"not_null", "unique", "primary_key", "foreign_key", "check"},
    "sqlserver": {"not_null", "unique", "primary_key", "foreign_key", "check"},
    "databricks": {"not_null", "check"},
    "spark": {"not_null", "check"},
}
DEFAULT_ENFORCED_CONSTRAINTS = {"not_null"}  # snowflake, bigquery, redshift and the rest
# A generic test names what it tests in kwargs.model: "{{ get_where_subquery(ref('orders')) }}".
# A versioned model's tests: "{{ get_where_subquery(ref('dim_customers', version='1')) }}".
REF_CALL = re.compile(
    r"""\bref\(\s*['"]([^'"]+)['"](?:\s*,\s*['"]([^'"]+)['"])?"""
    r"""(?:\s*,\s*(?:version|v)\s*=\s*['"]?([^'"\s,)]+))?"""
)
SOURCE_CALL = re.compile(r"""\bsource\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]""")
WARNINGS_PER_KIND = 10
MESSAGE_EXCERPT = 200
# The manifest sections the parser keeps whole: small next to nodes and sources.
RESULT_STATUSES = {
    "success",
    "error",
    "skipped",
    "pass",
    "fail",
    "warn",
    "runtime error",
    "no-op",
    "partial success",
}
FRESHNESS_STATUSES = {"pass", "warn", "error", "runtime error"}
WHOLE_SECTIONS = ("metadata", "groups", "exposures", "metrics", "semantic_models")
# What deciding which nodes and sources count needs of each, before reading them whole.
STREAMED_SECTIONS = ("nodes", "sources")
INDEX_FIELDS = frozenset(
    {
        "unique_id",
        "resource_type",
        "name",
        "package_name",
        "source_name",
        "version",
        "latest_version",
    }
)


def load_artifact(raw: bytes | str, *, name: str, run_id: int) -> dict[str, Any]:
    """One downloaded artifact as a dict, or a ConnectorError an admin can read."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _too_deep(name=name, run_id=run_id) from None
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors. Their str() gives the
        # position, never the document; `from None` also drops exc.doc, the whole download.
        raise _invalid_json(exc, name=name, run_id=run_id, size=len(raw)) from None
    if not isinstance(data, dict):
        raise _not_an_object(type(data).__name__, name=name, run_id=run_id)
    return data


def _invalid_json(exc: Exception, *, name: str, run_id: int, size: int) -> ConnectorError:
    reason = str(exc)[:MESSAGE_EXCERPT]
    return ConnectorError(
        f"{name} of dbt Cloud run {run_id} is not valid JSON (truncated download?): "
        f"{reason}; {size:,} bytes received."
    )


def _too_deep(*, name: str, run_id: int) -> ConnectorError:
    return ConnectorError(
        f"{name} of dbt Cloud run {run_id} nests its values deeper than the catalog reads "
        f"(about {sys.getrecursionlimit():,} levels; dbt writes a few dozen): it is not a "
        "dbt artifact the catalog can read, and nothing of this run was stored."
    )


def _not_an_object(type_name: str, *, name: str, run_id: int) -> ConnectorError:
    return ConnectorError(
        f"{name} of dbt Cloud run {run_id} is not a dbt artifact: expected a JSON object, "
        f"got a JSON {type_name}."
    )


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from dbt's ISO strings ('Z' or '+00:00', with or without
    microseconds, 'T' or a space); naive ones are UTC. None when absent or unreadable."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_artifacts(
    *,
    manifest: dict,
    run_results: dict | None,
    sources: dict | None,
    catalog: dict | None,
    provenance: Provenance,
    project_id: int | None,
    explore_url: Callable[[str], str] | None = None,
) -> DbtArtifacts:
    """Every record one run's artifacts describe. Only `manifest` is required: without
    run_results, sources or catalog the statuses, freshness and catalog columns stay empty."""
    run_id = provenance.run_id
    if not isinstance(manifest, dict):
        raise shapes.refused("manifest.json", run_id, "the document is not an object")
    for section in shapes.MANIFEST_OBJECTS:
        shapes.check_manifest_section(section, manifest.get(section), run_id)
    checked = _checked_documents(run_results, sources, catalog, run_id)
    return _Parser(
        manifest=_ManifestParts.of_dict(manifest),
        provenance=provenance,
        project_id=project_id,
        explore_url=explore_url,
        **checked,
    ).parse()


def _checked_documents(run_results, sources, catalog, run_id) -> dict[str, Any]:
    """run_results, sources and catalog as the parser may read them, and what was said."""
    run_results, said = shapes.checked_run_results(run_results, run_id)
    sources, more = shapes.checked_sources(sources, run_id)
    said += more
    catalog, more = shapes.checked_catalog(catalog, run_id)
    return {
        "run_results": _dict(run_results),
        "sources": _dict(sources),
        "catalog": _dict(catalog),
        "said": [*said, *more],
    }


def parse_artifacts_from_files(
    *,
    manifest_path: str | os.PathLike | IO[bytes],
    run_results: dict | None,
    sources: dict | None,
    catalog: dict | None,
    provenance: Provenance,
    project_id: int | None,
    explore_url: Callable[[str], str] | None = None,
    name: str = "manifest.json",
) -> DbtArtifacts:
    """`parse_artifacts` with the manifest read from a file (a path, or a seekable binary
    file), node by node: the whole manifest is never in memory, as bytes or as a dict. The
    same records, and the same ConnectorError as `load_artifact` when it is no JSON object."""
    run_id = provenance.run_id
    checked = _checked_documents(run_results, sources, catalog, run_id)
    with _ManifestFile(manifest_path) as manifest_file:
        try:
            parts = _ManifestParts.of_file(manifest_file, name=name, run_id=run_id)
            for section in shapes.MANIFEST_OBJECTS:
                shapes.check_manifest_section(section, parts.whole.get(section), run_id, name)
            return _Parser(
                manifest=parts,
                provenance=provenance,
                project_id=project_id,
                explore_url=explore_url,
                **checked,
            ).parse()
        except RecursionError:
            raise _too_deep(name=name, run_id=run_id) from None
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise _invalid_json(exc, name=name, run_id=run_id, size=manifest_file.size()) from None


def parse_run_facts(
    *,
    run_results: dict | None,
    sources: dict | None,
    catalog: dict | None,
    provenance: Provenance,
    project_id: int | None,
) -> DbtArtifacts:
    """What a run did, read without its manifest: build and test results (with the compiled
    code run_results.json carries), freshness and catalog columns, by unique_id. For a run
    that a newer run of the same project follows in the same sync: the newer manifest says
    what each node is, so this one is neither downloaded nor parsed."""
    checked = _checked_documents(run_results, sources, catalog, provenance.run_id)
    results = _index(checked["run_results"].get("results"))
    freshness = _index(checked["sources"].get("results"))
    catalog = checked["catalog"]
    columns = {**_dict(catalog.get("nodes")), **_dict(catalog.get("sources"))}
    warnings = [*checked["said"], *_status_warnings(results, freshness)]
    nodes, tests = [], []
    relation_kinds = (*RELATION_TYPES, "source")
    for uid in dict.fromkeys([*results, *freshness, *columns]):
        kind = uid.split(".", 1)[0]
        result = results.get(uid)
        status = _str(_dict(result).get("status"))
        code = _str(_dict(result).get("compiled_code"))
        if kind == "test":
            if status:
                tests.append(_test_facts(uid, result, provenance))
            continue
        if kind not in relation_kinds:
            continue
        nodes.append(
            DbtNodeRecord(
                unique_id=uid,
                resource_type=kind,
                name=uid.rsplit(".", 1)[-1],
                package_name="",
                project_id=project_id,
                original_file_path="",
                database="",
                schema="",
                identifier="",
                relation_name="",
                materialized="",
                description="",
                tags=(),
                meta={},
                owner="",
                access="",
                group="",
                contract_enforced=False,
                constraints=(),
                columns=(),
                depends_on=(),
                raw_code="",
                compiled_code=code,
                url="",
                freshness=_freshness(freshness[uid]) if uid in freshness else None,
                executed_at=_executed_at(result),
                execution_status=status,
                catalog_columns=_catalog_columns(columns.get(uid)),
                provenance=provenance,
                executed=bool(status),
                execution_time=_float(_dict(result).get("execution_time")),
                execution_message=_str(_dict(result).get("message")),
                adapter_response=_dict(_dict(result).get("adapter_response")),
                compiled=bool(code),
                catalogued=uid in columns,
            )
        )
    return DbtArtifacts(
        project_id=project_id,
        provenance=provenance,
        manifest_generated_at=None,
        nodes=tuple(nodes),
        tests=tuple(tests),
        exposures=(),
        terms=(),
        groups=(),
        warnings=tuple(warnings),
        facts_only=True,
    )


def _test_facts(uid: str, result: dict, provenance: Provenance) -> DbtTestRecord:
    return DbtTestRecord(
        unique_id=uid,
        name="",
        description="",
        test_type="",
        test_name="",
        attached_node="",
        column_name="",
        severity="",
        tags=(),
        compiled_code=_str(result.get("compiled_code")),
        url="",
        status=_str(result.get("status")),
        failures=_int(result.get("failures")),
        message=_str(result.get("message")),
        executed_at=_executed_at(result),
        provenance=provenance,
        executed=True,
    )


def _status_warnings(results: dict[str, dict], freshness: dict[str, dict]) -> list[str]:
    said = []
    for uid, result in results.items():
        status = _str(result.get("status"))
        if not status:
            said.append(
                f"run_results.json has a result for {uid} without a status; it is not read."
            )
        elif status not in RESULT_STATUSES:
            said.append(
                f"run_results.json reports status {status!r} for {uid}, which this catalog "
                "does not know; it is shown as given."
            )
    for uid, result in freshness.items():
        status = _str(result.get("status"))
        if status not in FRESHNESS_STATUSES:
            said.append(
                f"sources.json reports freshness {status or 'without a status'!r} for "
                f"{uid}, which this catalog does not know; it is shown as given."
            )
    return said


class _ManifestFile:
    """A manifest on disk, opened once and rewound for each pass over it."""

    def __init__(self, source: str | os.PathLike | IO[bytes]) -> None:
        self.source = source
        self.owned = isinstance(source, (str, os.PathLike))
        self.file: IO[bytes] | None = None

    def __enter__(self) -> _ManifestFile:
        self.file = open(self.source, "rb") if self.owned else self.source  # noqa: SIM115
        return self

    def __exit__(self, *exc) -> None:
        if self.owned and self.file is not None:
            self.file.close()

    def rewound(self) -> IO[bytes]:
        self.file.seek(0)
        return self.file

    def size(self) -> int:
        self.file.seek(0, os.SEEK_END)
        return self.file.tell()


@dataclass
class _ManifestParts:
    """What the parser needs of a manifest. `whole`: the small sections as they are.
    `known`: every unique_id key of the MANIFEST_SECTIONS. `index`: per streamed section, its
    entries as (position, key, item), item holding at least INDEX_FIELDS and config.enabled
    (None when not an object). `stream(section)`: the same entries, items whole, in order."""

    whole: dict[str, Any]
    known: set[str]
    index: dict[str, list[tuple[int, str, Any]]]
    stream: Callable[[str], Iterable[tuple[int, str, Any]]]

    @classmethod
    def of_dict(cls, manifest: dict) -> _ManifestParts:
        known: set[str] = set()
        for section in MANIFEST_SECTIONS:
            known.update(_dict(manifest.get(section)))

        def stream(section: str) -> Iterator[tuple[int, str, Any]]:
            for position, (key, item) in enumerate(_dict(manifest.get(section)).items()):
                yield position, key, item

        return cls(
            whole={section: manifest.get(section) for section in WHOLE_SECTIONS},
            known=known,
            index={section: list(stream(section)) for section in STREAMED_SECTIONS},
            stream=stream,
        )

    @classmethod
    def of_file(cls, manifest: _ManifestFile, *, name: str, run_id: int) -> _ManifestParts:
        whole, known, index = _scan(manifest.rewound(), name=name, run_id=run_id)

        def stream(section: str) -> Iterator[tuple[int, str, Any]]:
            items = ijson.kvitems(manifest.rewound(), section, use_float=True)
            for position, (key, item) in enumerate(items):
                yield position, key, item

        return cls(whole=whole, known=known, index=index, stream=stream)


_SCALAR_TYPES = {
    "string": "str",
    "number": "int",
    "boolean": "bool",
    "null": "NoneType",
    "start_array": "list",
}


_EVENT_KINDS = {
    "start_array": "a list",
    "string": "text",
    "number": "a number",
    "boolean": "a boolean",
}


class _NotAnObject(Exception):
    """A streamed section that is some other JSON value (its type names it)."""


def _scan(file: IO[bytes], *, name: str, run_id: int):
    """One pass over a manifest's JSON events: the small sections whole, the keys of the
    others, and for nodes and sources what deciding which of them count needs."""
    events = ijson.basic_parse(file, use_float=True)
    first = next(events, None)
    if first is None:
        raise ijson.IncompleteJSONError("empty document")
    if first[0] != "start_map":
        type_name = _SCALAR_TYPES.get(first[0], "object")
        if first[0] == "number" and isinstance(first[1], float):
            type_name = "float"
        for _ in events:  # invalid JSON after all: that error first, like json.loads
            pass
        raise _not_an_object(type_name, name=name, run_id=run_id)
    whole: dict[str, Any] = dict.fromkeys(WHOLE_SECTIONS)
    known: set[str] = set()
    entries: dict[str, dict[str, tuple[int, Any]]] = {s: {} for s in STREAMED_SECTIONS}
    positions = dict.fromkeys(STREAMED_SECTIONS, 0)
    for event, section in events:
        if event != "map_key":  # the manifest's end_map
            continue
        if section in WHOLE_SECTIONS:
            whole[section] = _build(events)
            if section in MANIFEST_SECTIONS:
                known.update(_dict(whole[section]))
        elif section in STREAMED_SECTIONS:
            try:
                positions[section] = _index_section(
                    events, entries[section], known, positions[section]
                )
            except _NotAnObject as exc:
                raise shapes.refused(
                    name, run_id, f"its {section} are {exc}, not an object"
                ) from None
        elif section in MANIFEST_SECTIONS:
            _keys(events, known)
        else:
            _skip(events)
    for _ in events:  # trailing data is an error, as it is to json.loads
        pass
    index = {
        section: [(position, key, item) for key, (position, item) in found.items()]
        for section, found in entries.items()
    }
    return whole, known, index


def _build(events: Iterator[tuple[str, Any]]) -> Any:
    builder = ijson.ObjectBuilder()
    event, value = next(events)
    builder.event(event, value)
    if event in ("start_map", "start_array"):
        depth = 1
        for event, value in events:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if not depth:
                    break
    return builder.value


def _skip(events: Iterator[tuple[str, Any]], event: str | None = None) -> None:
    """Past one value; `event` when its first event is already read."""
    if event is None:
        event, _value = next(events)
    if event not in ("start_map", "start_array"):
        return
    depth = 1
    for event, _value in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if not depth:
                return


def _keys(events: Iterator[tuple[str, Any]], known: set[str]) -> None:
    event, _value = next(events)
    if event != "start_map":
        _skip(events, event)
        return
    for event, value in events:
        if event == "end_map":
            return
        known.add(value)  # a map_key
        _skip(events)


def _index_section(
    events: Iterator[tuple[str, Any]],
    found: dict[str, tuple[int, Any]],
    known: set[str],
    position: int,
) -> int:
    """The entries of nodes or sources, each reduced to its INDEX_FIELDS and config.enabled.
    A repeated key keeps its first place and its last value, as in json.loads' dict."""
    event, _value = next(events)
    if event != "start_map":
        _skip(events, event)
        if event != "null":
            raise _NotAnObject(_EVENT_KINDS.get(event, event))
        return position
    for event, key in events:
        if event == "end_map":
            return position
        known.add(key)
        found[key] = (position, _index_item(events))
        position += 1
    return position


def _index_item(events: Iterator[tuple[str, Any]]) -> dict | None:
    event, _value = next(events)
    if event != "start_map":
        _skip(events, event)
        return None
    item: dict[str, Any] = {}
    for event, field in events:
        if event == "end_map":
            return item
        item.pop(field, None)  # a repeated key: its last value counts
        event, value = next(events)
        if field in INDEX_FIELDS and event not in ("start_map", "start_array"):
            item[field] = value
        elif field == "config" and event == "start_map":
            item["config"] = _index_config(events)
        else:
            _skip(events, event)
    return item


def _index_config(events: Iterator[tuple[str, Any]]) -> dict:
    config: dict[str, Any] = {}
    for event, field in events:
        if event == "end_map":
            return config
        config.pop(field, None)
        event, value = next(events)
        if field == "enabled" and event not in ("start_map", "start_array"):
            config["enabled"] = value
        else:
            _skip(events, event)
    return config


class _Parser:
    def __init__(
        self,
        *,
        manifest: _ManifestParts,
        run_results: dict,
        sources: dict,
        catalog: dict,
        provenance: Provenance,
        project_id: int | None,
        explore_url: Callable[[str], str] | None,
        said: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        self.manifest = manifest
        self.provenance = provenance
        self.project_id = project_id
        self.explore_url = explore_url
        self.warnings: dict[str, list[str]] = {}
        self.shape_warnings = [
            *shapes.check_version("manifest.json", manifest.whole, provenance.run_id),
            *said,
        ]
        self.metadata = _dict(manifest.whole.get("metadata"))
        self.adapter = _str(self.metadata.get("adapter_type")).lower()

        self.groups = self._enabled("groups")
        self.group_ids: dict[tuple[str, str], str] = {}
        for uid, group in self.groups.items():
            key = (_str(group.get("package_name")), _str(group.get("name")))
            self.group_ids.setdefault(key, uid)
            self.group_ids.setdefault(("", key[1]), uid)

        self.documents = {
            "manifest.json": self.manifest.whole,
            "run_results.json": _dict(run_results),
            "sources.json": _dict(sources),
            "catalog.json": _dict(catalog),
        }
        self.results = _index(_dict(run_results).get("results"))
        self.freshness = _index(_dict(sources).get("results"))
        self.catalog = {**_dict(catalog.get("nodes")), **_dict(catalog.get("sources"))}

        # Which entry (section, position) of nodes and sources each record is read from: the
        # index holds only what deciding needs, the entries are read whole in parse().
        nodes = self._enabled_entries("nodes")
        self.relations = {
            uid: item
            for uid, (_at, item) in nodes.items()
            if item.get("resource_type") in RELATION_TYPES
        }
        self.relation_at = {uid: nodes[uid][0] for uid in self.relations}
        for uid, (at, item) in self._enabled_entries("sources").items():
            self.relations[uid] = item
            self.relation_at[uid] = at
        self.relation_ids = self._relation_ids()
        self.test_at = {
            uid: at for uid, (at, item) in nodes.items() if item.get("resource_type") == "test"
        }

        self.semantic_models = self._enabled("semantic_models")
        self.metrics = self._enabled("metrics")
        # MetricFlow measure and metric names are unique within a project.
        self.model_of_measure: dict[str, str] = {}
        for uid, sm in self.semantic_models.items():
            for measure in _list(sm.get("measures")):
                measure_name = _str(_dict(measure).get("name"))
                if measure_name:
                    self.model_of_measure.setdefault(measure_name, uid)
        self.metric_ids: dict[str, str] = {}
        for uid, metric in self.metrics.items():
            self.metric_ids.setdefault(_str(metric.get("name")), uid)
        self.metric_inputs: dict[str, tuple[list[str], list[str], list[str]]] = {}

    # -- entry point -------------------------------------------------------------------

    def parse(self) -> DbtArtifacts:
        node_records: dict[str, DbtNodeRecord | None] = dict.fromkeys(self.relations)
        test_records: dict[str, DbtTestRecord | None] = dict.fromkeys(self.test_at)
        # Nodes warn before tests, whatever their order in the manifest.
        node_warnings: dict[str, list[str]] = {}
        test_warnings: dict[str, list[str]] = {}
        for section in STREAMED_SECTIONS:
            for position, key, item in self.manifest.stream(section):
                if not isinstance(item, dict):
                    continue
                uid = _str(item.get("unique_id")) or key
                wanted = self.relation_at.get(uid) == (section, position) or (
                    section == "nodes" and self.test_at.get(uid) == ("nodes", position)
                )
                if wanted:
                    item = shapes.checked_node(uid, item, self.shape_warnings)
                if self.relation_at.get(uid) == (section, position):
                    self.warnings = node_warnings
                    node_records[uid] = self._node(uid, item)
                if section == "nodes" and self.test_at.get(uid) == ("nodes", position):
                    self.warnings = test_warnings
                    test_records[uid] = self._test(uid, item)
        self.warnings = {"shape": list(self.shape_warnings)} if self.shape_warnings else {}
        for found in (node_warnings, test_warnings):
            for kind, messages in found.items():
                self.warnings.setdefault(kind, []).extend(messages)
        nodes = tuple(r for r in node_records.values() if r is not None)
        tests = [r for r in test_records.values() if r is not None]
        for node in nodes:
            if node.contract_enforced:
                tests.extend(self._constraint_tests(node))
        self._check_results()
        return DbtArtifacts(
            project_id=self.project_id,
            provenance=self.provenance,
            manifest_generated_at=parse_timestamp(self.metadata.get("generated_at")),
            nodes=nodes,
            tests=tuple(tests),
            exposures=tuple(
                self._exposure(uid, exposure)
                for uid, exposure in self._enabled("exposures").items()
            ),
            terms=self._terms(),
            groups=tuple(self._group(uid, group) for uid, group in self.groups.items()),
            warnings=self._warnings(),
        )

    # -- helpers shared by the sections ---------------------------------------------------

    def _enabled(self, section: str) -> dict[str, dict]:
        """A small manifest section without disabled entries, keyed by unique_id."""
        entries = enumerate(_dict(self.manifest.whole.get(section)).items())
        return {uid: item for uid, (_at, item) in self._enabled_of(section, entries).items()}

    def _enabled_entries(self, section: str) -> dict[str, tuple[tuple[str, int], dict]]:
        """Nodes or sources without disabled entries: unique_id -> ((section, position), item)."""
        entries = ((position, (key, item)) for position, key, item in self.manifest.index[section])
        return self._enabled_of(section, entries)

    def _enabled_of(
        self, section: str, entries: Iterable[tuple[int, tuple[str, Any]]]
    ) -> dict[str, tuple[tuple[str, int], dict]]:
        # The manifest's `disabled` section is not read: a unique_id there may also be under
        # nodes or sources (a disabled twin, the same model defined twice with one of them
        # disabled), and then that one is enabled; one that is only there is no node at all.
        enabled = {}
        for position, (key, item) in entries:
            if not isinstance(item, dict):
                continue
            uid = _str(item.get("unique_id")) or key
            if _dict(item.get("config")).get("enabled") is False:
                continue
            enabled[uid] = ((section, position), item)
        return enabled

    def _relation_ids(self) -> dict[tuple[str, ...], str]:
        """What a ref() or source() names: ("source", source, table), ("ref", package, name,
        version) with package "" for any. Each version of a versioned model is its own
        node; a ref without a version means the latest one (latest_version, else the
        highest)."""
        ids: dict[tuple[str, ...], str] = {}
        versions: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
        for uid, node in self.relations.items():
            name = _str(node.get("name"))
            if node.get("resource_type") == "source":
                ids.setdefault(("source", _str(node.get("source_name")), name), uid)
                continue
            package, version = _str(node.get("package_name")), _version(node.get("version"))
            for key in ((package, name), ("", name)):
                ids.setdefault(("ref", *key, version), uid)
                if version:
                    versions[key].append((version, _version(node.get("latest_version")), uid))
        for key, found in versions.items():
            latest = next((v for _v, v, _uid in found if v), "")
            named = {version: uid for version, _latest, uid in found}
            uid = named.get(latest) or named[max(named, key=_version_order)]
            ids.setdefault(("ref", *key, ""), uid)
        return ids

    def _warn(self, kind: str, message: str) -> None:
        self.warnings.setdefault(kind, []).append(message)

    def _warnings(self) -> tuple[str, ...]:
        # One bad artifact (run_results of another project) must not bury the rest.
        out: list[str] = []
        for messages in self.warnings.values():
            out.extend(messages[:WARNINGS_PER_KIND])
            if len(messages) > WARNINGS_PER_KIND:
                out.append(f"… and {len(messages) - WARNINGS_PER_KIND} more like the above.")
        return tuple(out)

    def _url(self, unique_id: str) -> str:
        return self.explore_url(unique_id) if self.explore_url else ""

    def _group(self, uid: str, group: dict) -> DbtGroupRecord:
        owner = _dict(group.get("owner"))
        return DbtGroupRecord(
            unique_id=uid,
            name=_str(group.get("name")),
            owner_name=_str(owner.get("name")),
            owner_email=_str(owner.get("email")),
            description=_str(group.get("description")),
        )

    def _group_id(self, item: dict) -> str:
        name = _str(item.get("group") or _dict(item.get("config")).get("group"))
        if not name:
            return ""
        package = _str(item.get("package_name"))
        uid = self.group_ids.get((package, name)) or self.group_ids.get(("", name))
        if uid is None:
            self._warn(
                "group",
                f"{item.get('unique_id')} belongs to group {name!r}, which is not in the manifest.",
            )
            return ""
        return uid

    def _check_results(self) -> None:
        for message in _status_warnings(self.results, self.freshness):
            self._warn("status", message)
        known = self.manifest.known
        for uid, result in self.results.items():
            if uid not in known:
                self._warn(
                    "run_results",
                    f"run_results.json reports {uid} ({_str(result.get('status')) or 'no status'}),"
                    " which is not in the manifest.",
                )
        for uid in self.freshness:
            if uid not in self.relations:
                self._warn(
                    "sources",
                    f"sources.json has freshness for {uid}, which is not in the manifest.",
                )

    # -- nodes --------------------------------------------------------------------------

    def _node(self, uid: str, node: dict) -> DbtNodeRecord:
        config = _dict(node.get("config"))
        resource_type = _str(node.get("resource_type"))
        is_source = resource_type == "source"
        meta = _meta(node)
        owner = _owner(meta.get("owner"))
        if is_source and not owner:
            owner = _owner(_dict(node.get("source_meta")).get("owner"))
        contract = _dict(node.get("contract")) or _dict(config.get("contract"))
        result = self.results.get(uid)
        compiled_code = _str(
            node.get("compiled_code")
            or node.get("compiled_sql")
            or _dict(result).get("compiled_code")
        )
        return DbtNodeRecord(
            unique_id=uid,
            resource_type=resource_type,
            name=_str(node.get("name")),
            package_name=_str(node.get("package_name")),
            project_id=self.project_id,
            original_file_path=_str(node.get("original_file_path")),
            database=_str(node.get("database")),
            schema=_str(node.get("schema")),
            identifier=_str(node.get("identifier") if is_source else node.get("alias"))
            or _str(node.get("name")),
            relation_name=_str(node.get("relation_name")),
            materialized="source" if is_source else _str(config.get("materialized")),
            description=_str(node.get("description")),
            tags=_tags(node),
            meta=meta,
            owner=owner,
            access=_str(node.get("access") or config.get("access")),
            group=self._group_id(node),
            contract_enforced=bool(contract.get("enforced")),
            constraints=tuple(_dict(c) for c in _list(node.get("constraints"))),
            columns=tuple(
                _column(name, column) for name, column in _dict(node.get("columns")).items()
            ),
            depends_on=_depends_on(node),
            raw_code=_str(node.get("raw_code") or node.get("raw_sql")),
            compiled_code=compiled_code,
            url=self._url(uid),
            loader=_str(node.get("loader")) if is_source else "",
            source_name=_str(node.get("source_name")) if is_source else "",
            freshness=_freshness(self.freshness[uid]) if uid in self.freshness else None,
            executed_at=_executed_at(result),
            execution_status=_str(_dict(result).get("status")),
            catalog_columns=_catalog_columns(self.catalog.get(uid)),
            provenance=self.provenance,
            executed=self._has_result(uid),
            execution_time=_float(_dict(result).get("execution_time")),
            execution_message=_str(_dict(result).get("message")),
            adapter_response=_dict(_dict(result).get("adapter_response")),
            compiled=bool(compiled_code),
            catalogued=uid in self.catalog,
            version=_version(node.get("version")),
            latest_version=_version(node.get("latest_version")),
        )

    def _has_result(self, uid: str) -> bool:
        """Whether run_results.json reports on the node: a result without a status is an
        unknown shape (said by _status_warnings), not taken for one."""
        return bool(_str(_dict(self.results.get(uid)).get("status")))

    # -- tests --------------------------------------------------------------------------

    def _test(self, uid: str, test: dict) -> DbtTestRecord:
        config = _dict(test.get("config"))
        metadata = _dict(test.get("test_metadata"))
        depends_on = _depends_on(test)
        if metadata.get("name"):
            test_type = "generic"
            namespace = _str(metadata.get("namespace"))
            test_name = f"{namespace}.{metadata['name']}" if namespace else _str(metadata["name"])
        else:
            test_type, test_name = "singular", _str(test.get("name"))
        # dbt sets attached_node for tests of models, seeds and snapshots, not of sources.
        attached = _str(test.get("attached_node")) or self._tested_relation(metadata)
        if not attached:
            attached = next(
                (
                    node
                    for node in depends_on
                    if node.split(".", 1)[0] in (*RELATION_TYPES, "source")
                ),
                "",
            )
        if attached and attached not in self.relations:
            self._warn(
                "attached",
                f"Test {uid} is attached to {attached}, which is not in the manifest (disabled?).",
            )
            attached = ""
        result = _dict(self.results.get(uid))
        return DbtTestRecord(
            unique_id=uid,
            name=_str(test.get("name")),
            description=_str(test.get("description")),
            test_type=test_type,
            test_name=test_name,
            attached_node=attached,
            column_name=_str(
                test.get("column_name") or _dict(metadata.get("kwargs")).get("column_name")
            ),
            severity=_str(config.get("severity") or "error").lower(),
            tags=_tags(test),
            compiled_code=_str(test.get("compiled_code") or test.get("compiled_sql")),
            url=self._url(uid),
            depends_on=depends_on,
            status=_str(result.get("status")),
            failures=_int(result.get("failures")),
            message=_str(result.get("message")),
            executed_at=_executed_at(result),
            provenance=self.provenance,
            executed=self._has_result(uid),
        )

    def _tested_relation(self, metadata: dict) -> str:
        model = _str(_dict(metadata.get("kwargs")).get("model"))
        if match := SOURCE_CALL.search(model):
            return self.relation_ids.get(("source", match[1], match[2]), "")
        if match := REF_CALL.search(model):
            package, name = (match[1], match[2]) if match[2] else ("", match[1])
            return self.relation_ids.get(("ref", package, name, _version(match[3])), "")
        return ""

    def _constraint_tests(self, node: DbtNodeRecord) -> list[DbtTestRecord]:
        """An enforced contract's constraints, as tests that pass when the node built."""
        found: list[tuple[str, dict]] = [
            (column.name, constraint)
            for column in node.columns
            for constraint in column.constraints
        ]
        found.extend(("", constraint) for constraint in node.constraints)
        enforced = ENFORCED_CONSTRAINTS.get(self.adapter, DEFAULT_ENFORCED_CONSTRAINTS)
        tests: list[DbtTestRecord] = []
        seen: set[str] = set()
        for column, constraint in found:
            kind = _str(constraint.get("type")) or "custom"
            name = _str(constraint.get("name"))
            uid = f"constraint.{node.unique_id}.{column or '_model'}.{kind}"
            if name:
                uid += f".{name}"
            base, n = uid, 1
            while uid in seen:  # two unnamed constraints of one type on one column
                n += 1
                uid = f"{base}.{n}"
            seen.add(uid)
            is_enforced = kind in enforced
            if not is_enforced:
                status = ""
            elif node.execution_status == "success":
                status = "pass"
            elif node.execution_status == "error":
                status = "error"
            elif node.execution_status == "skipped":
                status = "skipped"
            else:
                status = ""
            tests.append(
                DbtTestRecord(
                    unique_id=uid,
                    name=name or f"{kind}_{node.name}{'_' + column if column else ''}",
                    description=_describe_constraint(node, column, constraint, kind),
                    test_type="constraint",
                    test_name=kind,
                    attached_node=node.unique_id,
                    column_name=column,
                    severity="error",
                    tags=(),
                    compiled_code="",
                    url=node.url,
                    depends_on=(node.unique_id,),
                    status=status,
                    message=_constraint_message(
                        node, column, constraint, kind, is_enforced, self.adapter
                    ),
                    executed_at=node.executed_at if status else None,
                    provenance=self.provenance,
                    # Its result is the model's build result, derived by the catalog from
                    # whichever run built the model.
                    enforced=is_enforced,
                )
            )
        return tests

    # -- exposures ----------------------------------------------------------------------

    def _exposure(self, uid: str, exposure: dict) -> DbtExposureRecord:
        owner = _dict(exposure.get("owner"))
        return DbtExposureRecord(
            unique_id=uid,
            name=_str(exposure.get("name")),
            label=_str(exposure.get("label")),
            exposure_type=_str(exposure.get("type")),
            description=_str(exposure.get("description")),
            tags=_tags(exposure),
            owner_name=_str(owner.get("name")),
            owner_email=_str(owner.get("email")),
            url=_str(exposure.get("url")),
            maturity=_str(exposure.get("maturity")),
            depends_on=_depends_on(exposure),
        )

    # -- terms: semantic models and metrics ---------------------------------------------

    def _terms(self) -> tuple[DbtTermRecord, ...]:
        terms = [self._semantic_model(uid, sm) for uid, sm in self.semantic_models.items()]
        terms.extend(self._metric(uid, metric) for uid, metric in self.metrics.items())
        return tuple(terms)

    def _semantic_model(self, uid: str, sm: dict) -> DbtTermRecord:
        dimensions = tuple(
            _dimension(d) for d in _list(sm.get("dimensions")) if isinstance(d, dict)
        )
        return DbtTermRecord(
            unique_id=uid,
            kind="semantic_model",
            name=_str(sm.get("name")),
            label=_str(sm.get("label")),
            term_type="",
            description=_str(sm.get("description")),
            group=self._group_id(sm),
            dimensions=dimensions,
            time_grains=_grains(d["time_granularity"] for d in dimensions),
            measures=tuple(_measure(m) for m in _list(sm.get("measures")) if isinstance(m, dict)),
            depends_on=_depends_on(sm),
            owner=_owner(_meta(sm).get("owner")),
            tags=_tags(sm),
        )

    def _metric(self, uid: str, metric: dict) -> DbtTermRecord:
        measure_names, semantic_models, referenced = self._metric_sources(uid, set())
        dimensions: dict[str, dict[str, Any]] = {}
        models: list[str] = []
        for sm_uid in semantic_models:
            sm = self.semantic_models[sm_uid]
            models.extend(_depends_on(sm))
            for dimension in _list(sm.get("dimensions")):
                if isinstance(dimension, dict):
                    parsed = _dimension(dimension)
                    dimensions.setdefault(parsed["name"], parsed)
        # Metrics of dbt < 1.6 list their own dimensions and time grains.
        for name in _list(metric.get("dimensions")):
            if isinstance(name, str):
                dimensions.setdefault(name, _dimension({"name": name}))
        grains = [d["time_granularity"] for d in dimensions.values()]
        grains.extend(_str(g) for g in _list(metric.get("time_grains")))
        grains.append(_str(metric.get("time_granularity")))
        measures = []
        for measure_name in measure_names:
            sm = self.semantic_models.get(self.model_of_measure.get(measure_name, ""), {})
            measure = next(
                (m for m in _list(sm.get("measures")) if _dict(m).get("name") == measure_name),
                {"name": measure_name},
            )
            measures.append(_measure(measure))
        return DbtTermRecord(
            unique_id=uid,
            kind="metric",
            name=_str(metric.get("name")),
            label=_str(metric.get("label")),
            term_type=_str(metric.get("type") or metric.get("calculation_method")),
            description=_str(metric.get("description")),
            group=self._group_id(metric),
            dimensions=tuple(dimensions.values()),
            time_grains=_grains(grains),
            measures=tuple(measures),
            depends_on=tuple(
                _unique([*models, *referenced, *_depends_on(metric, prefix="model.")])
            ),
            owner=_owner(_meta(metric).get("owner")),
            tags=_tags(metric),
        )

    def _metric_sources(self, uid: str, seen: set[str]) -> tuple[list[str], list[str], list[str]]:
        """The measures a metric uses, their semantic models and the metrics it references,
        following derived and ratio metrics down to their simple ones."""
        if uid in self.metric_inputs:
            return self.metric_inputs[uid]
        seen = seen | {uid}
        metric = self.metrics.get(uid, {})
        params = _dict(metric.get("type_params"))
        conversion = _dict(params.get("conversion_type_params"))
        measures = _unique(
            _ref_name(ref)
            for ref in (
                params.get("measure"),
                *_list(params.get("input_measures")),
                conversion.get("base_measure"),
                conversion.get("conversion_measure"),
            )
        )
        referenced = _unique(
            [
                *(
                    self.metric_ids.get(_ref_name(ref), "")
                    for ref in (
                        params.get("numerator"),
                        params.get("denominator"),
                        params.get("metric"),
                        *_list(params.get("metrics")),
                    )
                ),
                *_depends_on(metric, prefix="metric."),
            ]
        )
        semantic_models = _unique(
            [
                *(self.model_of_measure.get(m, "") for m in measures),
                *_depends_on(metric, prefix="semantic_model."),
            ]
        )
        semantic_models = [sm for sm in semantic_models if sm in self.semantic_models]
        for other in referenced:
            if other in seen or other not in self.metrics:
                continue
            more_measures, more_models, _ = self._metric_sources(other, seen)
            measures = _unique([*measures, *more_measures])
            semantic_models = _unique([*semantic_models, *more_models])
        self.metric_inputs[uid] = (measures, semantic_models, referenced)
        return self.metric_inputs[uid]


# -- small readers, tolerant of missing and mistyped keys ---------------------------------


def test_outcomes(run_results: dict | None) -> tuple[TestOutcome, ...]:
    """The data tests' results in a run_results.json (a later entry for a test wins, as
    when a job runs `dbt test` twice)."""
    return tuple(
        TestOutcome(
            unique_id=uid,
            status=_str(result.get("status")),
            failures=_int(result.get("failures")),
            message=_str(result.get("message")),
            executed_at=_executed_at(result),
        )
        for uid, result in _index(_dict(run_results).get("results")).items()
        if uid.startswith("test.")
    )


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _version(value: Any) -> str:
    """A model version as dbt writes it in unique_ids (.v2): 2, 2.0 and "2" are "2"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None or isinstance(value, bool) else str(value).strip()


def _version_order(version: str) -> tuple:
    """Numbers in numeric order, ahead of other strings (dbt allows either)."""
    try:
        return (1, float(version), version)
    except ValueError:
        return (0, 0.0, version)


def _unique(values: Iterable[str]) -> list[str]:
    """Non-empty values in their first order, without repeats."""
    return [v for v in dict.fromkeys(values) if v]


def _index(results: Any) -> dict[str, dict]:
    """Artifact results by unique_id; a later entry for the same node wins."""
    return {
        _str(result["unique_id"]): result
        for result in _list(results)
        if isinstance(result, dict) and result.get("unique_id")
    }


def _tags(item: Mapping) -> tuple[str, ...]:
    # Metrics keep their tags in config only; nodes repeat them at the top level.
    values: list[str] = []
    for tags in (item.get("tags"), _dict(item.get("config")).get("tags")):
        if isinstance(tags, str):
            values.append(tags)
        else:
            values.extend(_str(tag) for tag in _list(tags))
    return tuple(_unique(values))


def _meta(item: Mapping) -> dict[str, Any]:
    return {**_dict(item.get("meta")), **_dict(_dict(item.get("config")).get("meta"))}


def _owner(value: Any) -> str:
    if isinstance(value, dict):
        return _str(value.get("email") or value.get("name"))
    if isinstance(value, (list, tuple)):
        return ", ".join(_str(v) for v in value if v)
    return _str(value)


def _depends_on(item: Mapping, *, prefix: str = "") -> tuple[str, ...]:
    nodes = _list(_dict(item.get("depends_on")).get("nodes"))
    return tuple(_unique(_str(n) for n in nodes if _str(n).startswith(prefix)))


def _ref_name(ref: Any) -> str:
    return ref if isinstance(ref, str) else _str(_dict(ref).get("name"))


def _executed_at(result: dict | None) -> datetime | None:
    for timing in _list(_dict(result).get("timing")):
        if _dict(timing).get("name") == "execute":
            return parse_timestamp(timing.get("completed_at"))
    return None


def _column(key: str, column: Any) -> DbtColumnRecord:
    column = _dict(column)
    return DbtColumnRecord(
        name=_str(column.get("name")) or key,
        description=_str(column.get("description")),
        data_type=_str(column.get("data_type")),
        tags=_tags(column),
        meta=_meta(column),
        constraints=tuple(_dict(c) for c in _list(column.get("constraints"))),
    )


def _freshness(result: dict) -> FreshnessRecord:
    return FreshnessRecord(
        status=_str(result.get("status")),
        max_loaded_at=parse_timestamp(result.get("max_loaded_at")),
        snapshotted_at=parse_timestamp(result.get("snapshotted_at")),
        age_seconds=_float(result.get("max_loaded_at_time_ago_in_s")),
        criteria=_dict(result.get("criteria")),
        error=_str(result.get("error")),
    )


def _catalog_columns(entry: Any) -> tuple[tuple[str, str, int], ...]:
    columns = []
    for position, (key, column) in enumerate(_dict(_dict(entry).get("columns")).items(), 1):
        column = _dict(column)
        index = _int(column.get("index"))
        columns.append(
            (_str(column.get("name")) or key, _str(column.get("type")), index or position)
        )
    return tuple(sorted(columns, key=lambda c: c[2]))


def _dimension(dimension: dict) -> dict[str, Any]:
    params = _dict(dimension.get("type_params"))
    return {
        "name": _str(dimension.get("name")),
        "type": _str(dimension.get("type")),
        "time_granularity": _str(params.get("time_granularity")).lower(),
        "description": _str(dimension.get("description")),
    }


def _measure(measure: dict) -> dict[str, Any]:
    return {
        "name": _str(measure.get("name")),
        "agg": _str(measure.get("agg")),
        "expr": _str(measure.get("expr")),
        "description": _str(measure.get("description")),
    }


def _grains(values: Iterable[str]) -> tuple[str, ...]:
    """Time granularities, finest first; custom ones after the standard ones."""
    grains = _unique(v.lower() for v in values)
    rank = {grain: i for i, grain in enumerate(GRAIN_ORDER)}
    return tuple(sorted(grains, key=lambda g: (rank.get(g, len(rank)), g)))


def _where(node: DbtNodeRecord, column: str, constraint: dict) -> str:
    if column:
        return f"{node.name}.{column}"
    columns = [_str(c) for c in _list(constraint.get("columns")) if c]
    return f"{node.name} ({', '.join(columns)})" if columns else node.name


def _describe_constraint(node: DbtNodeRecord, column: str, constraint: dict, kind: str) -> str:
    text = f"{kind} constraint on {_where(node, column, constraint)}"
    expression = _str(constraint.get("expression"))
    if expression:
        text += f": {expression}"
    to = _str(constraint.get("to"))
    if to:
        to_columns = ", ".join(_str(c) for c in _list(constraint.get("to_columns")))
        text += f" references {to}" + (f" ({to_columns})" if to_columns else "")
    return text


def _constraint_message(
    node: DbtNodeRecord, column: str, constraint: dict, kind: str, enforced: bool, adapter: str
) -> str:
    return constraint_message(
        _describe_constraint(node, column, constraint, kind),
        model=node.name,
        build_status=node.execution_status,
        enforced=enforced,
        kind=kind,
        adapter=adapter,
    )
