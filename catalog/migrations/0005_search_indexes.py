"""Indexes for catalog_search (catalog/selectors/search.py) on tables and columns, PostgreSQL
only: SQLite searches without them.

- full text: GIN on to_tsvector('simple', name || ' ' || description), for description words;
- trigram (pg_trgm): GIN on name, for "name contains / starts with" (ILIKE '%q%');
- trigram: GIN on tags::text || ' ' || owners::text, for tags and owners in the query and for
  the tag and owner filters.

All partial (WHERE NOT removed): the search never looks at removed rows. The expressions are
written exactly as catalog_search writes them, or the planner would not use the indexes. The
dbt tables (nodes, tests, exposures, terms) hold thousands of rows, not millions: no index.

pg_trgm is a trusted extension (PostgreSQL 13+), so a database owner may create it. Where it
cannot be created, the trigram indexes are skipped with a warning: search still works, by
scanning.
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

TABLES = ("catalog_table", "catalog_column")


def fts_index(table):
    return (
        f"CREATE INDEX {table}_search_fts ON {table} USING gin "
        f"(to_tsvector('simple'::regconfig, (name || ' ' || description))) WHERE NOT removed"
    )


def trigram_indexes(table):
    return [
        f"CREATE INDEX {table}_search_name_trgm ON {table} USING gin "
        f"(name gin_trgm_ops) WHERE NOT removed",
        f"CREATE INDEX {table}_search_labels_trgm ON {table} USING gin "
        f"((tags::text || ' ' || owners::text) gin_trgm_ops) WHERE NOT removed",
    ]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(fts_index(table))
    try:
        with transaction.atomic(using=schema_editor.connection.alias):  # a savepoint
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # the driver's error: no privilege, or contrib not installed
        logger.warning("pg_trgm unavailable, search names without trigram indexes: %s", exc)
        return
    for table in TABLES:
        for sql in trigram_indexes(table):
            schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        for suffix in ("fts", "name_trgm", "labels_trgm"):
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_{suffix}")
    # pg_trgm stays: other objects may use it by now.


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_edit_record"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes),
    ]
