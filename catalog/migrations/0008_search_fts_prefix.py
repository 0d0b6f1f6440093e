"""The full-text indexes of 0005 read a bounded prefix of each description, and descriptions
of warehouse objects are checked against the catalog's limit in forms (Django admin's too).

A tsvector holds at most 1 MB of distinct words, and an index entry is computed on every
write: one long warehouse comment ("string is too long for tsvector") made every sync of its
warehouse fail. `left(description, 100000)` is 400 kB at most (four bytes a character), so no
text can. The number is `catalog.selectors.search.INDEXED_PREFIX`, which writes the same
expression, or the planner would not use the indexes.

The other search indexes need no bound: the trigram ones are GIN (one small entry per
trigram, whatever the length) and the btree sort indexes cover names, which are varchar(255)
on tables, columns and models. Views' definitions and dbt's code are in no index.
"""

from django.db import migrations, models

import catalog.descriptions

# (table, partial index predicate), as in 0005_search_indexes.
SEARCHED = (
    ("catalog_table", "NOT removed"),
    ("catalog_column", "NOT removed"),
    ("catalog_dbtnode", "NOT removed AND resource_type = 'model'"),
    ("catalog_dbttest", "NOT removed"),
)
PREFIX = 100_000


def _recreate(schema_editor, document: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, where in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_fts")
        schema_editor.execute(
            f"CREATE INDEX {table}_search_fts ON {table} USING gin "
            f"(to_tsvector('simple'::regconfig, {document})) WHERE {where}"
        )


def bounded(apps, schema_editor):
    _recreate(schema_editor, f"left(description, {PREFIX})")


def whole(apps, schema_editor):
    # Fails, as the old index did, where a description's words pass 1 MB.
    _recreate(schema_editor, "description")


def description_field():
    return models.TextField(
        blank=True, validators=[catalog.descriptions.validate_description_length]
    )


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0007_table_properties"),
    ]

    operations = [
        migrations.RunPython(bounded, whole),
        *(
            migrations.AlterField(model_name=name, name="description", field=description_field())
            for name in ("column", "database", "schema", "table")
        ),
    ]
