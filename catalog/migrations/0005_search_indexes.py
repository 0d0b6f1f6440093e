"""Indexes for catalog_search (catalog/selectors/search.py), PostgreSQL only: SQLite searches
without them. On tables, columns, dbt models and dbt tests (exposures and terms are few):

- sort: btree on (lower(name) COLLATE "C", name COLLATE "C", id), the search's order. Read in
  order it gives the first hits of a name prefix (a range of it) or of a broad query without
  sorting them all;
- full text: GIN on to_tsvector('simple', description), for description words (names have the
  sort and trigram indexes; in this document they would only add rows to recheck);
- trigram (pg_trgm): GIN on name, for "name contains" (ILIKE '%q%');
- trigram: GIN on the labels (tags::text || ' ' || owners::text, or a model's tags and owner),
  for tags and owners in the query and for the tag and owner filters.

All partial (WHERE NOT removed; models: and resource_type = 'model'), as the search never reads
removed rows. The expressions are written exactly as catalog_search writes them, or the planner
would not use the indexes.

pg_trgm is a trusted extension (PostgreSQL 13+), so a database owner may create it. Where it
cannot be created, the trigram indexes are skipped with a warning: search still works, by
scanning.
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

# (table, partial index predicate, the labels expression)
SEARCHED = (
    ("catalog_table", "NOT removed", "tags::text || ' ' || owners::text"),
    ("catalog_column", "NOT removed", "tags::text || ' ' || owners::text"),
    (
        "catalog_dbtnode",
        "NOT removed AND resource_type = 'model'",
        "tags::text || ' ' || owner::text",
    ),
    ("catalog_dbttest", "NOT removed", "tags::text"),
)
SUFFIXES = ("sort", "fts", "name_trgm", "labels_trgm")


def plain_indexes(table, where):
    return [
        f"CREATE INDEX {table}_search_sort ON {table} "
        f'((lower(name) COLLATE "C"), (name COLLATE "C"), id) WHERE {where}',
        f"CREATE INDEX {table}_search_fts ON {table} USING gin "
        f"(to_tsvector('simple'::regconfig, description)) WHERE {where}",
    ]


def trigram_indexes(table, where, labels):
    return [
        f"CREATE INDEX {table}_search_name_trgm ON {table} USING gin "
        f"(name gin_trgm_ops) WHERE {where}",
        f"CREATE INDEX {table}_search_labels_trgm ON {table} USING gin "
        f"(({labels}) gin_trgm_ops) WHERE {where}",
    ]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, where, _labels in SEARCHED:
        for sql in plain_indexes(table, where):
            schema_editor.execute(sql)
    try:
        with transaction.atomic(using=schema_editor.connection.alias):  # a savepoint
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # the driver's error: no privilege, or contrib not installed
        logger.warning("pg_trgm unavailable, search names without trigram indexes: %s", exc)
        return
    for table, where, labels in SEARCHED:
        for sql in trigram_indexes(table, where, labels):
            schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _where, _labels in SEARCHED:
        for suffix in SUFFIXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_{suffix}")
    # pg_trgm stays: other objects may use it by now.


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_edit_record"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes),
    ]
