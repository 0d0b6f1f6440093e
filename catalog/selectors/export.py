"""Reads of the catalog."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils import timezone

from integrations.models import Integration

from ..models import Column, Database, Schema, Table
from .dbt_export import dbt_by_table, dbt_integration_export

EXPORT_VERSION = 1

COMMON_FIELDS = (
    "id",
    "name",
    "description",
    "description_source",
    "tags",
    "tags_source",
    "owners",
    "owners_source",
    "warehouse_owner",
    "removed",
    "first_seen_run_id",
    "last_changed_run_id",
)
TABLE_FIELDS = (
    *COMMON_FIELDS,
    "schema_id",
    "kind",
    "row_estimate",
    "last_altered",
    "definition",
    "properties",
)
COLUMN_FIELDS = (
    *COMMON_FIELDS,
    "table_id",
    "data_type",
    "ordinal",
    "nullable",
    "default",
    "is_primary_key",
    "foreign_key_id",
)


def _common(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "description_source": row["description_source"],
        "tags": row["tags"],
        "tags_source": row["tags_source"],
        "owners": row["owners"],
        "owners_source": row["owners_source"],
        "warehouse_owner": row["warehouse_owner"],
        "removed": row["removed"],
        "first_seen_run": row["first_seen_run_id"],
        "last_changed_run": row["last_changed_run_id"],
    }


def catalog_export_data(*, integration: Integration | None = None) -> dict[str, Any]:
    """Every database, schema, table and column with its metadata, nested, in the shape
    documented in docs/catalog_export.md. A fixed number of queries whatever the size."""
    integrations = Integration.objects.all()
    if integration is not None:
        integrations = integrations.filter(pk=integration.pk)
    integrations = list(integrations)
    scope = {"integration__in": integrations}

    columns_by_table = defaultdict(list)
    column_paths: dict[int, str] = {}
    column_rows = list(
        Column.objects.filter(**scope)
        .values(*COLUMN_FIELDS)
        .order_by("table_id", "ordinal", "name")
    )
    table_rows = list(Table.objects.filter(**scope).values(*TABLE_FIELDS).order_by("name"))
    schema_rows = list(
        Schema.objects.filter(**scope).values(*COMMON_FIELDS, "database_id").order_by("name")
    )
    database_rows = list(
        Database.objects.filter(**scope).values(*COMMON_FIELDS, "integration_id").order_by("name")
    )

    db_names = {d["id"]: d["name"] for d in database_rows}
    schema_paths = {s["id"]: f"{db_names[s['database_id']]}.{s['name']}" for s in schema_rows}
    table_paths = {t["id"]: f"{schema_paths[t['schema_id']]}.{t['name']}" for t in table_rows}
    for c in column_rows:
        column_paths[c["id"]] = f"{table_paths[c['table_id']]}.{c['name']}"
    all_paths = _all_table_paths() if integration is not None else table_paths
    dbt_tables = dbt_by_table(list(table_paths), all_paths)

    for c in column_rows:
        columns_by_table[c["table_id"]].append(
            {
                **_common(c),
                "data_type": c["data_type"],
                "ordinal": c["ordinal"],
                "nullable": c["nullable"],
                "default": c["default"],
                "primary_key": c["is_primary_key"],
                "foreign_key": column_paths.get(c["foreign_key_id"]),
            }
        )
    tables_by_schema = defaultdict(list)
    for t in table_rows:
        tables_by_schema[t["schema_id"]].append(
            {
                **_common(t),
                "path": table_paths[t["id"]],
                "kind": t["kind"],
                "row_estimate": t["row_estimate"],
                "last_altered": t["last_altered"].isoformat() if t["last_altered"] else None,
                "definition": t["definition"],
                "properties": t["properties"],
                "columns": columns_by_table[t["id"]],
                "dbt": dbt_tables.get(t["id"]),
            }
        )
    schemas_by_db = defaultdict(list)
    for s in schema_rows:
        schemas_by_db[s["database_id"]].append({**_common(s), "tables": tables_by_schema[s["id"]]})
    dbs_by_integration = defaultdict(list)
    for d in database_rows:
        dbs_by_integration[d["integration_id"]].append(
            {**_common(d), "schemas": schemas_by_db[d["id"]]}
        )

    return {
        "version": EXPORT_VERSION,
        "generated_at": timezone.now().isoformat(),
        "integrations": [
            {
                "id": i.pk,
                "name": i.name,
                "connector": i.connector,
                "status": i.status,
                "last_synced_at": i.last_synced_at.isoformat() if i.last_synced_at else None,
                "databases": dbs_by_integration[i.pk],
                "dbt": None
                if i.connector_obj.is_warehouse
                else dbt_integration_export(i, all_paths),
            }
            for i in integrations
        ],
    }


def _all_table_paths() -> dict[int, str]:
    """database.schema.table of every table, for references across integrations."""
    rows = Table.objects.values_list("id", "schema__database__name", "schema__name", "name")
    return {pk: f"{db}.{schema}.{name}" for pk, db, schema, name in rows}
