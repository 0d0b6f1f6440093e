"""Updating and inserting many rows in one statement.

Django's bulk_update builds a CASE WHEN per row and field, which costs seconds of Python
per ten thousand rows. On PostgreSQL the rows travel instead as one JSON parameter,
unpacked by jsonb_to_recordset and joined on the primary key: one statement whatever the
number of rows. Other databases keep Django's bulk_update.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

BATCH = 1000


class _Encoder(DjangoJSONEncoder):
    """Django's, but times keep their microseconds (Django's cuts them to milliseconds):
    a value written must read back equal, or the next sync sees a change."""

    def default(self, o: Any) -> Any:
        if isinstance(o, (datetime, date, time)):
            return o.isoformat()
        return super().default(o)


def bulk_update_rows(
    model: type[models.Model], rows: list[dict[str, Any]], fields: list[str]
) -> int:
    """Set `fields` on the rows given as dicts with "id" (or "pk") and those fields."""
    if not rows or not fields:
        return 0
    columns = [model._meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        objs = [
            model(
                pk=row.get("id", row.get("pk")),
                **{f.attname: row[name] for name, f in zip(fields, columns, strict=True)},
            )
            for row in rows
        ]
        model.objects.bulk_update(objs, [f.name for f in columns], batch_size=BATCH)
        return len(objs)
    pk = model._meta.pk
    definitions = ", ".join(
        f"{connection.ops.quote_name(f.column)} {f.db_type(connection)}" for f in [pk, *columns]
    )
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = data.{connection.ops.quote_name(f.column)}"
        for f in columns
    )
    payload = _Encoder().encode(
        [
            {
                pk.column: row.get("id", row.get("pk")),
                **{f.column: row[name] for name, f in zip(fields, columns, strict=True)},
            }
            for row in rows
        ]
    )
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS data({definitions}) "
        f"WHERE {table}.{connection.ops.quote_name(pk.column)} = data.{connection.ops.quote_name(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        return cursor.rowcount


def insert_rows(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> list[Any]:
    """Insert rows given as {attname: value} and return their primary keys, in order. A field
    left out takes its default, or now where it is auto_now(_add).

    On PostgreSQL the rows travel as JSON unpacked by jsonb_to_recordset: Django's
    bulk_create builds a model instance per row and adapts every value of every row into
    arrays in Python, which cost more than the rest of a dbt sync's first apply. Each row is
    encoded as it comes and a statement carries up to INSERT_PAYLOAD characters, so the
    payload never holds much more than that. Other databases go through bulk_create.
    """
    fields = _insert_fields(model)
    names = {f.attname for f in fields}

    def checked(row: dict[str, Any]) -> dict[str, Any]:
        if unknown := row.keys() - names:
            raise ValueError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
        return row

    if connection.vendor != "postgresql":
        objs = [model(**checked(row)) for row in rows]
        model.objects.bulk_create(objs)
        return [obj.pk for obj in objs]
    now = timezone.now()
    # Each default is encoded at once, so one value can serve every row.
    spec = [
        (
            f.attname,
            f.column,
            now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else f.get_default(),
        )
        for f in fields
    ]
    quote = connection.ops.quote_name
    definitions = ", ".join(
        ["_position integer", *(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)]
    )
    columns = ", ".join(quote(f.column) for f in fields)
    # Inserted in the order given and returned in it, as callers pair rows with keys.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {columns} FROM "
        f"jsonb_to_recordset(%s::jsonb) AS data({definitions}) ORDER BY data._position "
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    encode = _Encoder().encode
    ids: list[Any] = []
    chunk: list[str] = []
    size = 0
    for position, row in enumerate(rows):
        checked(row)
        values: dict[str, Any] = {"_position": position}
        for name, column, default in spec:
            values[column] = row[name] if name in row else default
        encoded = encode(values)
        chunk.append(encoded)
        size += len(encoded)
        if size >= INSERT_PAYLOAD:
            ids += _insert(sql, chunk)
            size = 0
    if chunk:
        ids += _insert(sql, chunk)
    return ids


INSERT_PAYLOAD = 8 * 1024 * 1024  # characters of JSON per INSERT


def _insert_fields(model: type[models.Model]) -> list[models.Field]:
    pk = model._meta.pk
    return [f for f in model._meta.concrete_fields if f is not pk]


def _insert(sql: str, chunk: list[str]) -> list[Any]:
    payload = "[" + ",".join(chunk) + "]"
    chunk.clear()  # the rows are in the payload now: not held twice while it is sent
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        del payload
        return [row[0] for row in cursor.fetchall()]
