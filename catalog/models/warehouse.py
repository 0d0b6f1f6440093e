"""The warehouse catalog: databases, schemas, tables (and views) and columns.

Each object is unique on its natural key within an integration. Objects that
vanish from the warehouse are flagged `removed`, never deleted, so that what
users wrote on them survives.
"""

from __future__ import annotations

from django.db import models

from ..descriptions import validate_description_length


class DescriptionSource(models.TextChoices):
    NONE = "", "None"
    WAREHOUSE = "warehouse", "Warehouse comment"
    DBT = "dbt", "dbt"
    USER = "user", "User"


class CatalogObject(models.Model):
    """Fields shared by every catalog object."""

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, validators=[validate_description_length])
    description_source = models.CharField(
        max_length=20, choices=DescriptionSource.choices, blank=True, default=""
    )
    tags = models.JSONField(default=list, blank=True)
    tags_source = models.CharField(
        max_length=20, choices=DescriptionSource.choices, blank=True, default=""
    )
    # The warehouse's own comment and tags, kept on every sync whatever `description` and
    # `tags` show, so that dbt's enrichment can be taken back to them.
    warehouse_description = models.TextField(blank=True)
    warehouse_tags = models.JSONField(default=list, blank=True)
    owners = models.JSONField(default=list, blank=True)
    owners_source = models.CharField(
        max_length=20, choices=DescriptionSource.choices, blank=True, default=""
    )
    # The role that owns the object in the warehouse; `owners` are the people answerable for it.
    warehouse_owner = models.CharField(max_length=255, blank=True)
    removed = models.BooleanField(default=False)
    first_seen_run = models.ForeignKey(
        "integrations.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_changed_run = models.ForeignKey(
        "integrations.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Database(CatalogObject):
    """A database (Postgres), project (BigQuery) or database (Snowflake) of one integration."""

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "name"], name="database_natural_key")
        ]


class Schema(CatalogObject):
    """A schema (or dataset) inside a database."""

    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="schemas")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["database", "name"], name="schema_natural_key")
        ]

    def __str__(self) -> str:
        return f"{self.database.name}.{self.name}"


class Table(CatalogObject):
    """A table, view or other relation. Views and materialized views are tables of another kind."""

    class Kind(models.TextChoices):
        TABLE = "table", "Table"
        VIEW = "view", "View"
        MATERIALIZED_VIEW = "materialized_view", "Materialized view"
        PARTITIONED_TABLE = "partitioned_table", "Partitioned table"
        FOREIGN_TABLE = "foreign_table", "Foreign table"
        EXTERNAL_TABLE = "external_table", "External table"

    schema = models.ForeignKey(Schema, on_delete=models.CASCADE, related_name="tables")
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.TABLE)
    row_estimate = models.BigIntegerField(null=True, blank=True)
    last_altered = models.DateTimeField(null=True, blank=True)
    definition = models.TextField(blank=True, help_text="The SQL of a view.")
    properties = models.JSONField(
        default=dict,
        blank=True,
        help_text="Partitioning, clustering, bytes: as the warehouse tells.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["schema", "name"], name="table_natural_key")]
        indexes = [models.Index(fields=["integration", "removed"])]

    def __str__(self) -> str:
        return f"{self.schema.database.name}.{self.schema.name}.{self.name}"


class Column(CatalogObject):
    """A column of a table or view."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="columns")
    data_type = models.TextField(blank=True)  # nested types (struct<...>) run long
    ordinal = models.PositiveIntegerField(default=0)
    nullable = models.BooleanField(default=True)
    default = models.TextField(blank=True)
    is_primary_key = models.BooleanField(default=False)
    foreign_key = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referenced_by"
    )

    class Meta:
        ordering = ["table", "ordinal", "name"]
        constraints = [models.UniqueConstraint(fields=["table", "name"], name="column_natural_key")]
        indexes = [models.Index(fields=["integration", "removed"])]

    def __str__(self) -> str:
        return f"{self.table.name}.{self.name}"


class EditRecord(models.Model):
    """One change a person made to a description, tags or owners: who, when, old → new."""

    table = models.ForeignKey(
        Table, null=True, blank=True, on_delete=models.CASCADE, related_name="edits"
    )
    column = models.ForeignKey(
        Column, null=True, blank=True, on_delete=models.CASCADE, related_name="edits"
    )
    field = models.CharField(max_length=20)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    old_source = models.CharField(max_length=20, blank=True)
    user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-edited_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field} edited by {self.user_id} at {self.edited_at:%Y-%m-%d %H:%M}"
