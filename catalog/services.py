"""Writes to the catalog: applying what a connector extracted, in bulk and all at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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

from .models import Column, Database, DescriptionSource, Schema, Table

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
    snap = Snapshot.from_records(records)
    apply = _Applier(
        integration=integration, run=run, warn=warn or (lambda _m: None), keep=keep_schemas
    )
    databases = apply.level(
        Database,
        existing={(d.name,): d for d in Database.objects.filter(integration=integration)},
        incoming=snap.databases,
        parent=lambda key: {},
    )
    db_by_id = {d.pk: key[0] for key, d in databases.items()}
    schemas = apply.level(
        Schema,
        existing={
            (db_by_id[s.database_id], s.name): s
            for s in Schema.objects.filter(integration=integration)
        },
        incoming=snap.schemas,
        parent=lambda key: {"database_id": databases[key[:1]].pk},
    )
    schema_key_by_id = {s.pk: key for key, s in schemas.items()}
    tables = apply.level(
        Table,
        existing={
            (*schema_key_by_id[t.schema_id], t.name): t
            for t in Table.objects.filter(integration=integration)
        },
        incoming=snap.tables,
        parent=lambda key: {"schema_id": schemas[key[:2]].pk},
    )
    table_key_by_id = {t.pk: key for key, t in tables.items()}
    columns = apply.level(
        Column,
        existing={
            (*table_key_by_id[c.table_id], c.name): c
            for c in Column.objects.filter(integration=integration)
        },
        incoming=snap.columns,
        parent=lambda key: {"table_id": tables[key[:3]].pk},
    )
    apply.foreign_keys(columns, snap.columns)
    return {name: counts.as_dict() for name, counts in apply.counts.items()}


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
        self.updated_columns: set[int] = set()

    def level(self, model, *, existing: dict, incoming: dict, parent: Callable) -> dict:
        """Diff one level of the tree; returns every object by key, old and new."""
        counts = self.counts.setdefault(model._meta.model_name, LevelCounts())
        fields = WAREHOUSE_FIELDS[model]
        to_create, to_update, changed_fields = [], [], set()
        for key, record in incoming.items():
            obj = existing.get(key)
            if obj is None:
                obj = model(
                    integration=self.integration,
                    name=key[-1],
                    first_seen_run=self.run,
                    last_changed_run=self.run,
                    **parent(key),
                )
                _assign(obj, record, fields)
                to_create.append(obj)
                existing[key] = obj
                continue
            changed = _assign(obj, record, fields)
            if obj.removed:
                obj.removed = False
                changed.add("removed")
            if changed:
                obj.last_changed_run = self.run
                obj.updated_at = self.now
                changed_fields |= changed
                to_update.append(obj)

        gone = [
            obj
            for key, obj in existing.items()
            if key not in incoming and not obj.removed and key[:2] not in self.keep
        ]
        model.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            model.objects.bulk_update(
                to_update,
                [*sorted(changed_fields), "last_changed_run", "updated_at"],
                batch_size=BATCH_SIZE,
            )
        for start in range(0, len(gone), BATCH_SIZE):
            batch = gone[start : start + BATCH_SIZE]
            model.objects.filter(pk__in=[o.pk for o in batch]).update(
                removed=True, last_changed_run=self.run, updated_at=self.now
            )
        for obj in gone:
            obj.removed = True
        if model is Column:
            self.updated_columns = {o.pk for o in to_update}
        counts.created += len(to_create)
        counts.updated += len(to_update)
        counts.removed += len(gone)
        return existing

    def foreign_keys(self, columns: dict, incoming: dict[tuple, ColumnRecord]) -> None:
        """Point columns at the columns they reference, once every column has an id."""
        to_update = []
        for key, record in incoming.items():
            obj = columns[key]
            target = None
            if record.foreign_key is not None:
                ref = record.foreign_key
                ref_key = (ref.database, ref.schema, ref.table, ref.column)
                if ref_key in incoming:
                    target = columns[ref_key].pk
                else:
                    self.warn(
                        f"Foreign key {'.'.join(key[1:])} references {'.'.join(ref_key[1:])}, "
                        "which is outside the synced schemas."
                    )
            if obj.foreign_key_id != target:
                obj.foreign_key_id = target
                obj.last_changed_run = self.run
                obj.updated_at = self.now
                to_update.append(obj)
        if to_update:
            Column.objects.bulk_update(
                to_update, ["foreign_key", "last_changed_run", "updated_at"], batch_size=BATCH_SIZE
            )
            counts = self.counts["column"]
            created_now = {o.pk for o in to_update if o.first_seen_run_id == self.run.pk}
            newly_updated = {o.pk for o in to_update} - self.updated_columns - created_now
            counts.updated += len(newly_updated)


def _assign(obj: models.Model, record: Any, fields: dict[str, str]) -> set[str]:
    """Copy the warehouse's values onto obj; returns the names of the fields that changed."""
    changed = set()
    for model_field, attr in fields.items():
        value = getattr(record, attr)
        if value is None and model_field in ("definition", "warehouse_owner", "default"):
            value = ""
        if getattr(obj, model_field) != value:
            setattr(obj, model_field, value)
            changed.add(model_field)
    if obj.description_source in WAREHOUSE_MAY_DESCRIBE:
        description = record.description or ""
        source = DescriptionSource.WAREHOUSE if description else DescriptionSource.NONE
        if obj.description != description or obj.description_source != source:
            obj.description = description
            obj.description_source = source
            changed |= {"description", "description_source"}
    return changed
