"""Updating and inserting many rows in one statement.

Django's bulk_update builds a CASE WHEN per row and field, which costs seconds of Python
per ten thousand rows. On PostgreSQL the rows travel instead as one JSON parameter,
unpacked by jsonb_to_recordset and joined on the primary key: one statement whatever the
number of rows. Other databases keep Django's bulk_update.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

BATCH = 1000


def _encode(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


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
    payload = json.dumps(
        [
            {
                pk.column: row.get("id", row.get("pk")),
                **{f.column: _encode(row[name]) for name, f in zip(fields, columns, strict=True)},
            }
            for row in rows
        ],
        cls=DjangoJSONEncoder,
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


def bulk_insert(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert unsaved instances and set their primary keys, as bulk_create does.

    On PostgreSQL the rows travel as JSON unpacked by jsonb_to_recordset: Django's
    bulk_create adapts every value of every row into arrays in Python, which cost more than
    the rest of a dbt sync's first apply. Each row is encoded as it comes and a statement
    carries up to INSERT_PAYLOAD bytes, so the payload never holds much more than that.
    Other databases keep bulk_create.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if f is not pk]
    quote = connection.ops.quote_name
    definitions = ", ".join(
        ["_position integer", *(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)]
    )
    columns = ", ".join(quote(f.column) for f in fields)
    # Inserted in the order given and returned in it, as Django's bulk_create relies on.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {columns} FROM "
        f"jsonb_to_recordset(%s::jsonb) AS data({definitions}) ORDER BY data._position "
        f"RETURNING {quote(pk.column)}"
    )
    encoder = DjangoJSONEncoder()
    chunk: list[str] = []
    size, done = 0, 0
    for position, obj in enumerate(objs):
        row = {"_position": position}
        for f in fields:
            row[f.column] = _encode(f.pre_save(obj, True))  # auto_now(_add), as save() does
        encoded = encoder.encode(row)
        chunk.append(encoded)
        size += len(encoded)
        if size >= INSERT_PAYLOAD:
            done = _insert(sql, chunk, objs, done)
            chunk, size = [], 0
    if chunk:
        _insert(sql, chunk, objs, done)


INSERT_PAYLOAD = 8 * 1024 * 1024  # characters of JSON per INSERT


def _insert(sql: str, chunk: list[str], objs: list[models.Model], done: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, ["[" + ",".join(chunk) + "]"])
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objs[done : done + len(ids)], ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = connection.alias
    return done + len(ids)
