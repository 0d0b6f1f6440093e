"""People's edits to descriptions, tags and owners. An edited value's origin becomes
"user", which warehouse and dbt syncs respect; every change is recorded.

A field the person left as it was keeps its value and its origin, and records nothing:
the edit form sends every field back, a textarea's text with CRLF line endings and without
the newline dbt's `description: |` ends in, so values are compared as text
(`descriptions.normalised_text`), and lists as sets of their items."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..descriptions import normalised_text, too_long_message
from ..models import Column, DescriptionSource, EditRecord, Table

EDITABLE = {"description": "description_source", "tags": "tags_source", "owners": "owners_source"}
MAX_ITEM_LENGTH = 100


def _read(field: str, value: Any) -> Any:
    """The value as it would be stored: normalised text, or a list of distinct words."""
    if field == "description":
        if not isinstance(value, str):
            raise ValidationError({"description": "A description is text."})
        return normalised_text(value)
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError({field: f"{field.capitalize()} are a list of words."})
    return list(dict.fromkeys(normalised_text(v) for v in value if normalised_text(v)))


def _unchanged(field: str, old: Any, new: Any) -> bool:
    if field == "description":
        return normalised_text(old or "") == new
    return {normalised_text(str(v)) for v in old or ()} - {""} == set(new)


def _check(field: str, old: Any, new: Any) -> None:
    """A person's new value within bounds. Items already there (a warehouse label longer
    than a typed tag may be, say) stay as they are."""
    if field == "description":
        if message := too_long_message(new):
            raise ValidationError({"description": message})
        return
    if any(len(v) > MAX_ITEM_LENGTH for v in new if v not in (old or [])):
        raise ValidationError(
            {field: f"Each of the {field} is {MAX_ITEM_LENGTH} characters at most."}
        )


@transaction.atomic
def catalog_object_edit(*, obj: Table | Column, changes: dict[str, Any], user) -> list[EditRecord]:
    """Apply a person's changes to a table or column; unchanged fields record nothing and
    keep their origin."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(
            f"Only {', '.join(EDITABLE)} can be edited, not {', '.join(sorted(unknown))}."
        )
    obj = type(obj).objects.select_for_update().get(pk=obj.pk)
    records = []
    for field, raw in changes.items():
        value = _read(field, raw)
        source_field = EDITABLE[field]
        old = getattr(obj, field)
        if _unchanged(field, old, value):
            continue
        _check(field, old, value)
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
