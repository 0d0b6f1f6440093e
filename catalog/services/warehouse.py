"""Writes to the catalog: applying what a connector extracted, in bulk and all at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from integrations.connectors.base import (
    ColumnRecord,
    DatabaseRecord,
    Record,
    SchemaRecord,
    TableRecord,
)

from ..descriptions import DescriptionCutter
from ..models import Column, Database, DescriptionSource, Schema, Table
from .bulk import bulk_update_rows

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000

# The fields the warehouse owns, per model, with the record attribute each comes from.
WAREHOUSE_FIELDS: dict[type[models.Model], dict[str, str]] = {
    Database: {"warehouse_owner": "owner"},
    Schema: {"warehouse_owner": "owner"},
    Table: {
        "kind": "kind",
        "row_estimate": "row_estimate",
        "last_altered": "last_altered",
        "definition": "definition",
        "warehouse_owner": "owner",
        "properties": "properties",
    },
    Column: {
        "data_type": "data_type",
        "ordinal": "ordinal",
        "nullable": "nullable",
        "default": "default",
        "is_primary_key": "is_primary_key",
    },
}
# Where the warehouse may (re)write a description: nobody else has written one.
WAREHOUSE_MAY_DESCRIBE = {DescriptionSource.NONE, DescriptionSource.WAREHOUSE}


@dataclass
class LevelCounts:
    created: int = 0
    updated: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "removed": self.removed}


@dataclass
class Snapshot:
    """What one extraction saw, keyed by natural key."""

    databases: dict[tuple[str], DatabaseRecord] = field(default_factory=dict)
    schemas: dict[tuple[str, str], SchemaRecord] = field(default_factory=dict)
    tables: dict[tuple[str, str, str], TableRecord] = field(default_factory=dict)
    columns: dict[tuple[str, str, str, str], ColumnRecord] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> Snapshot:
        snap = cls()
        for record in records:
            if isinstance(record, ColumnRecord):
                key = (record.database, record.schema, record.table, record.name)
                snap.columns[key] = record
            elif isinstance(record, TableRecord):
                snap.tables[(record.database, record.schema, record.name)] = record
            elif isinstance(record, SchemaRecord):
                snap.schemas[(record.database, record.name)] = record
            elif isinstance(record, DatabaseRecord):
                snap.databases[(record.name,)] = record
        snap._add_missing_parents()
        return snap

    def _add_missing_parents(self) -> None:
        for db, schema, _table in self.tables:
            self.schemas.setdefault((db, schema), SchemaRecord(database=db, name=schema))
        for db, _schema in self.schemas:
            self.databases.setdefault((db,), DatabaseRecord(name=db))


@transaction.atomic
def catalog_apply(
    *,
    integration,
    run,
    records: Iterable[Record],
    warn: Callable[[str], None] | None = None,
    keep_schemas: set[tuple[str, str]] = frozenset(),
) -> dict[str, dict[str, int]]:
    """Make the integration's catalog equal to what was extracted.

    New objects are created, changed ones updated, vanished ones flagged removed
    (keeping what users wrote on them), except inside `keep_schemas`, the (database, schema)
    pairs the connector could not read this time. Nothing is written for an unchanged object,
    so a re-sync of an unchanged warehouse writes nothing at all.
    """
    # One apply per integration at a time: a run reclaimed from a worker presumed dead
    # waits here for the first to finish instead of interleaving with it.
    type(integration).objects.select_for_update().filter(pk=integration.pk).first()
    warn = warn or (lambda _m: None)
    snap = Snapshot.from_records(_cut_comments(records, DescriptionCutter(warn)))
    apply = _Applier(integration=integration, run=run, warn=warn, keep=keep_schemas)
    databases = apply.level(Database, incoming=snap.databases, key_of=lambda row: (row["name"],))
    schemas = apply.level(
        Schema,
        incoming=snap.schemas,
        key_of=lambda row: (*databases.key_by_id[row["database_id"]], row["name"]),
        parent=lambda key: {"database_id": databases.ids[key[:1]]},
    )
    tables = apply.level(
        Table,
        incoming=snap.tables,
        key_of=lambda row: (*schemas.key_by_id[row["schema_id"]], row["name"]),
        parent=lambda key: {"schema_id": schemas.ids[key[:2]]},
    )
    columns = apply.level(
        Column,
        incoming=snap.columns,
        key_of=lambda row: (*tables.key_by_id[row["table_id"]], row["name"]),
        parent=lambda key: {"table_id": tables.ids[key[:3]]},
        extra_fields=("foreign_key_id",),
    )
    apply.foreign_keys(columns, snap.columns)
    return {name: counts.as_dict() for name, counts in apply.counts.items()}


def _cut_comments(records: Iterable[Record], cut: DescriptionCutter) -> Iterator[Record]:
    """The records, with comments past the catalog's limit cut to it (and a warning)."""
    for record in records:
        description = getattr(record, "description", None) or ""
        if len(description) > cut.limit:
            described = f"comment on {_path_of(record)}"
            record = replace(record, description=cut(description, what=described))
        yield record


def _path_of(record: Record) -> str:
    """How warnings name an object: schema.table[.column], as the foreign key ones do."""
    if isinstance(record, ColumnRecord):
        return f"{record.schema}.{record.table}.{record.name}"
    if isinstance(record, TableRecord):
        return f"{record.schema}.{record.name}"
    if isinstance(record, SchemaRecord):
        return f"schema {record.name}"
    return f"database {record.name}"


@dataclass
class LevelState:
    """One level after its diff: ids by natural key (old and new objects) and back."""

    ids: dict[tuple, int]
    rows: dict[tuple, dict[str, Any]]
    created: set[int]
    updated: set[int]

    @cached_property
    def key_by_id(self) -> dict[int, tuple]:
        return {pk: key for key, pk in self.ids.items()}


PARENT_FIELD = {Database: None, Schema: "database_id", Table: "schema_id", Column: "table_id"}
STATE_FIELDS = (
    "id",
    "name",
    "description",
    "description_source",
    "tags",
    "tags_source",
    "warehouse_description",
    "warehouse_tags",
    "removed",
)


class _Applier:
    def __init__(
        self, *, integration, run, warn: Callable[[str], None], keep: set[tuple[str, str]]
    ) -> None:
        self.integration = integration
        self.keep = keep
        self.run = run
        self.warn = warn
        self.now = timezone.now()
        self.counts: dict[str, LevelCounts] = {}

    def _existing(self, model, key_of: Callable, extra_fields: tuple[str, ...]) -> dict:
        """Only the compared fields, as plain rows: building model instances for every
        existing object would cost more than the whole diff."""
        parent = PARENT_FIELD[model]
        names = [*STATE_FIELDS, *WAREHOUSE_FIELDS[model], *extra_fields]
        if parent:
            names.append(parent)
        rows = model.objects.filter(integration=self.integration).order_by().values(*names)
        return {key_of(row): row for row in rows}

    def level(
        self,
        model,
        *,
        incoming: dict,
        key_of: Callable[[dict], tuple],
        parent: Callable[[tuple], dict] = lambda key: {},
        extra_fields: tuple[str, ...] = (),
    ) -> LevelState:
        """Diff one level of the tree and write the difference in bulk."""
        counts = self.counts.setdefault(model._meta.model_name, LevelCounts())
        fields = WAREHOUSE_FIELDS[model]
        existing = self._existing(model, key_of, extra_fields)
        to_create, to_update, changed_fields = [], [], set()
        for key, record in incoming.items():
            row = existing.get(key)
            if row is None:
                to_create.append(
                    (
                        key,
                        model(
                            integration=self.integration,
                            name=key[-1],
                            first_seen_run=self.run,
                            last_changed_run=self.run,
                            **parent(key),
                            **_desired(
                                record,
                                fields,
                                source=DescriptionSource.NONE,
                                tags_source=DescriptionSource.NONE,
                            ),
                        ),
                    )
                )
                continue
            desired = _desired(
                record, fields, source=row["description_source"], tags_source=row["tags_source"]
            )
            changes = {name: value for name, value in desired.items() if row[name] != value}
            if row["removed"]:
                changes["removed"] = False
            if changes:
                row.update(changes)
                changed_fields |= changes.keys()
                to_update.append(row)

        gone = [
            row["id"]
            for key, row in existing.items()
            if key not in incoming and not row["removed"] and key[:2] not in self.keep
        ]
        model.objects.bulk_create([obj for _key, obj in to_create], batch_size=BATCH_SIZE)
        if to_update:
            # Every updated row carries all compared fields, so writing the union of the
            # changed fields rewrites the unchanged ones with their current values.
            written = sorted(changed_fields)
            for row in to_update:
                row["last_changed_run"] = self.run.pk
                row["updated_at"] = self.now
            bulk_update_rows(model, to_update, [*written, "last_changed_run", "updated_at"])
        bulk_update_rows(
            model,
            [
                {"id": pk, "removed": True, "last_changed_run": self.run.pk, "updated_at": self.now}
                for pk in gone
            ],
            ["removed", "last_changed_run", "updated_at"],
        )
        counts.created += len(to_create)
        counts.updated += len(to_update)
        counts.removed += len(gone)

        for key, obj in to_create:
            existing[key] = {"id": obj.pk, **{name: getattr(obj, name) for name in extra_fields}}
        return LevelState(
            ids={key: row["id"] for key, row in existing.items()},
            rows=existing,
            created={obj.pk for _key, obj in to_create},
            updated={row["id"] for row in to_update},
        )

    def foreign_keys(self, columns: LevelState, incoming: dict[tuple, ColumnRecord]) -> None:
        """Point columns at the columns they reference, once every column has an id."""
        to_update = []
        for key, record in incoming.items():
            target = None
            if record.foreign_key is not None:
                ref = record.foreign_key
                ref_key = (ref.database, ref.schema, ref.table, ref.column)
                if ref_key in incoming:
                    target = columns.ids[ref_key]
                else:
                    self.warn(
                        f"Foreign key {'.'.join(key[1:])} references {'.'.join(ref_key[1:])}, "
                        "which is outside the synced schemas."
                    )
            if columns.rows[key]["foreign_key_id"] != target:
                to_update.append(
                    Column(
                        pk=columns.ids[key],
                        foreign_key_id=target,
                        last_changed_run=self.run,
                        updated_at=self.now,
                    )
                )
        if to_update:
            bulk_update_rows(
                Column,
                [
                    {
                        "id": o.pk,
                        "foreign_key": o.foreign_key_id,
                        "last_changed_run": self.run.pk,
                        "updated_at": self.now,
                    }
                    for o in to_update
                ],
                ["foreign_key", "last_changed_run", "updated_at"],
            )
            changed = {obj.pk for obj in to_update} - columns.created - columns.updated
            self.counts["column"].updated += len(changed)


def _desired(
    record: Any, fields: dict[str, str], *, source: str, tags_source: str
) -> dict[str, Any]:
    """The values the warehouse says a row should have. The shown description and tags only
    where the warehouse may write them: nobody else (dbt, a user) has. Its own comment and
    tags are kept whatever is shown, so dbt's can be taken back to them."""
    values = {}
    for model_field, attr in fields.items():
        value = getattr(record, attr)
        if value is None and model_field in ("definition", "warehouse_owner", "default"):
            value = ""
        values[model_field] = value
    description = record.description or ""
    values["warehouse_description"] = description
    if hasattr(record, "tags"):
        values["warehouse_tags"] = list(record.tags)
    if source in WAREHOUSE_MAY_DESCRIBE:
        values["description"] = description
        values["description_source"] = (
            DescriptionSource.WAREHOUSE if description else DescriptionSource.NONE
        )
    # Only relations carry warehouse labels; other records leave tags alone.
    if hasattr(record, "tags") and tags_source in WAREHOUSE_MAY_DESCRIBE:
        tags = list(record.tags)
        values["tags"] = tags
        values["tags_source"] = DescriptionSource.WAREHOUSE if tags else DescriptionSource.NONE
    return values
