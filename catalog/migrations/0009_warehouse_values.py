"""Keep the warehouse's own comment and tags beside the values shown.

dbt's enrichment overwrites `description` and `tags`; until now the warehouse's comment was
lost then, so taking dbt's enrichment back (a node matched elsewhere, a node gone, the dbt
integration disconnected) had nothing to return to. The warehouse sync sets these two fields on
every run, whatever the shown value's source. Rows whose shown value still comes from the
warehouse are copied here; rows dbt or a person overwrote stay empty until their next sync.
"""

from django.db import migrations, models
from django.db.models import F

MODELS = ("database", "schema", "table", "column")


def copy_warehouse_values(apps, schema_editor) -> None:
    for name in MODELS:
        model = apps.get_model("catalog", name)
        model.objects.filter(description_source="warehouse").update(
            warehouse_description=F("description")
        )
        model.objects.filter(tags_source="warehouse").update(warehouse_tags=F("tags"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_search_fts_prefix"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="warehouse_description",
                field=models.TextField(blank=True),
            )
            for name in MODELS
        ),
        *(
            migrations.AddField(
                model_name=name,
                name="warehouse_tags",
                field=models.JSONField(blank=True, default=list),
            )
            for name in MODELS
        ),
        migrations.RunPython(copy_warehouse_values, migrations.RunPython.noop, elidable=True),
    ]
