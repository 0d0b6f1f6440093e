"""Making a kind of dbt row equal to what a sync wants, writing only the difference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from ..bulk import bulk_update_rows, insert_rows

# Sorts an unknown time first (a run not finished, a result without timing).
EARLIEST = datetime.min.replace(tzinfo=UTC)


def jsonable(value: Any) -> Any:
    """Tuples to lists and records (dataclasses) to dicts, recursively, so values compare
    equal to what JSONFields load. One copy, where asdict and a pass over its copy made two."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    names = _record_fields(type(value))
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    return value


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _record_fields(kind: type) -> tuple[str, ...] | None:
    if kind not in _FIELDS:
        _FIELDS[kind] = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None
    return _FIELDS[kind]


@dataclass
class Counts:
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, what: str, n: int) -> None:
        if n:
            bucket = self.kinds.setdefault(kind, {"created": 0, "updated": 0, "removed": 0})
            bucket[what] = bucket.get(what, 0) + n


def upsert(
    model: type[models.Model],
    *,
    integration,
    desired: dict[Any, dict[str, Any]],
    key: str,
    counts: Counts,
    kind: str,
    skip: Callable[[dict, dict], bool] | None = None,
    still_written: tuple[str, ...] = (),
    removable: Callable[[dict], bool] | None = None,
) -> dict[Any, int]:
    """Make rows equal to `desired` (keyed by `key`), writing only differences.

    `skip(existing, wanted)` keeps an existing row as it is (a newer fact), but for the
    fields `still_written`, which come from elsewhere;
    `removable(existing)` says which rows missing from `desired` are flagged removed.
    Returns every row's id by key. `desired` is emptied: a new row's values are let go of
    as soon as they are encoded for the INSERT, whose payload would otherwise add to them.
    """
    names = sorted({name for values in desired.values() for name in values})
    fields = ["id", key, *[n for n in names if n != key]]
    if removable is not None:
        fields.append("removed")
        fields += [f for f in ("project_id",) if f not in fields and _has(model, f)]
    existing = {
        row[key]: row
        for row in model.objects.filter(integration=integration)
        .order_by()
        .values(*dict.fromkeys(fields))
    }
    now = timezone.now()
    to_create, to_update, changed_names = [], [], set()
    for k, values in desired.items():
        row = existing.get(k)
        if row is None:
            to_create.append(k)
            continue
        values = {n: v for n, v in values.items() if n != key}
        kept = skip is not None and skip(row, values)
        if kept:
            values = {n: values[n] for n in still_written if n in values}
        changes = {n: v for n, v in values.items() if row.get(n) != v}
        if removable is not None and row.get("removed") and not kept:
            changes["removed"] = False
        if changes:
            row.update(changes)
            changed_names |= changes.keys()
            to_update.append(row)
    gone = []
    if removable is not None:
        gone = [
            row["id"]
            for k, row in existing.items()
            if k not in desired and not row["removed"] and removable(row)
        ]

    def created_rows():
        for k in to_create:
            values = desired.pop(k)
            values.pop(key, None)
            yield {"integration_id": integration.pk, key: k, **values}

    created = insert_rows(model, created_rows())
    desired.clear()
    if to_update:
        written = sorted(changed_names)
        for row in to_update:
            row["updated_at"] = now
        bulk_update_rows(model, to_update, [*written, "updated_at"])
    bulk_update_rows(
        model,
        [{"id": pk, "removed": True, "updated_at": now} for pk in gone],
        ["removed", "updated_at"],
    )
    counts.add(kind, "created", len(to_create))
    counts.add(kind, "updated", len(to_update))
    counts.add(kind, "removed", len(gone))
    ids = {k: row["id"] for k, row in existing.items()}
    ids.update(zip(to_create, created, strict=True))
    return ids


def _has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())
