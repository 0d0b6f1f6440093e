"""People's edits to descriptions, tags and owners. An edited value's origin becomes
"user", which warehouse and dbt syncs respect; every change is recorded."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Column, DescriptionSource, EditRecord, Table

EDITABLE = {"description": "description_source", "tags": "tags_source", "owners": "owners_source"}


def _clean(field: str, value: Any) -> Any:
    if field == "description":
        if not isinstance(value, str):
            raise ValidationError({"description": "A description is text."})
        return value.strip()
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError({field: f"{field.capitalize()} are a list of words."})
    cleaned = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if any(len(v) > 100 for v in cleaned):
        raise ValidationError({field: f"Each of the {field} is 100 characters at most."})
    return cleaned


@transaction.atomic
def catalog_object_edit(*, obj: Table | Column, changes: dict[str, Any], user) -> list[EditRecord]:
    """Apply a person's changes to a table or column; unchanged fields record nothing."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(
            f"Only {', '.join(EDITABLE)} can be edited, not {', '.join(sorted(unknown))}."
        )
    obj = type(obj).objects.select_for_update().get(pk=obj.pk)
    records = []
    for field, raw in changes.items():
        value = _clean(field, raw)
        source_field = EDITABLE[field]
        old = getattr(obj, field)
        if old == value:
            continue
        records.append(
            EditRecord(
                table=obj if isinstance(obj, Table) else None,
                column=obj if isinstance(obj, Column) else None,
                field=field,
                old_value=old,
                new_value=value,
                old_source=getattr(obj, source_field),
                user=user,
            )
        )
        setattr(obj, field, value)
        setattr(obj, source_field, DescriptionSource.USER)
    if records:
        obj.save(
            update_fields=[
                *{r.field for r in records},
                *{EDITABLE[r.field] for r in records},
                "updated_at",
            ]
        )
        EditRecord.objects.bulk_create(records)
    return records
