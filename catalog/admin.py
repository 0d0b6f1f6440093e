"""Django admin for the catalog."""

from django.contrib import admin

from .models import (
    ApiToken,
    Column,
    Database,
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    Schema,
    Table,
    TableLineage,
)

# The warehouse's own comment and tags are the sync's to write: dbt's are taken back to them.
READ_ONLY_SYNC_FIELDS = (
    "warehouse_description",
    "warehouse_tags",
    "first_seen_run",
    "last_changed_run",
    "created_at",
    "updated_at",
)


@admin.register(Database)
class DatabaseAdmin(admin.ModelAdmin):
    list_display = ("name", "integration", "description_source", "removed", "updated_at")
    list_filter = ("integration", "removed")
    search_fields = ("name", "description")
    readonly_fields = READ_ONLY_SYNC_FIELDS


@admin.register(Schema)
class SchemaAdmin(admin.ModelAdmin):
    list_display = ("name", "database", "integration", "warehouse_owner", "removed", "updated_at")
    list_filter = ("integration", "removed")
    search_fields = ("name", "description", "database__name")
    list_select_related = ("database", "integration")
    raw_id_fields = ("database",)
    readonly_fields = READ_ONLY_SYNC_FIELDS


class ColumnInline(admin.TabularInline):
    model = Column
    fk_name = "table"
    fields = (
        "ordinal",
        "name",
        "data_type",
        "nullable",
        "is_primary_key",
        "foreign_key",
        "description",
        "description_source",
        "removed",
    )
    readonly_fields = ("ordinal", "name", "data_type", "nullable", "is_primary_key", "removed")
    raw_id_fields = ("foreign_key",)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # columns come from the warehouse


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "schema",
        "kind",
        "integration",
        "row_estimate",
        "description_source",
        "removed",
        "updated_at",
    )
    list_filter = ("integration", "kind", "removed", "description_source")
    search_fields = ("name", "description", "schema__name", "schema__database__name")
    list_select_related = ("schema__database", "integration")
    raw_id_fields = ("schema",)
    readonly_fields = READ_ONLY_SYNC_FIELDS
    inlines = [ColumnInline]


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "table",
        "data_type",
        "nullable",
        "is_primary_key",
        "foreign_key",
        "removed",
    )
    list_filter = ("integration", "is_primary_key", "nullable", "removed")
    search_fields = ("name", "description", "table__name", "data_type")
    list_select_related = ("table__schema__database", "foreign_key__table__schema__database")
    raw_id_fields = ("table", "foreign_key")
    readonly_fields = READ_ONLY_SYNC_FIELDS


@admin.register(DbtJob)
class DbtJobAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "dbt_id",
        "integration",
        "environment_name",
        "job_type",
        "schedule_cron",
    )
    list_filter = ("integration", "job_type", "deployment_type")
    search_fields = ("name", "project_name", "environment_name")
    filter_horizontal = ("builds",)


@admin.register(DbtRun)
class DbtRunAdmin(admin.ModelAdmin):
    list_display = ("dbt_id", "job", "status", "finished_at", "duration_seconds", "ingested_at")
    list_filter = ("status", "integration")
    search_fields = ("dbt_id", "git_sha")
    list_select_related = ("job",)


@admin.register(DbtNode)
class DbtNodeAdmin(admin.ModelAdmin):
    list_display = (
        "unique_id",
        "resource_type",
        "materialized",
        "match_status",
        "match_rule",
        "table",
        "removed",
    )
    list_filter = ("integration", "resource_type", "match_status", "removed")
    search_fields = ("unique_id", "name", "description", "match_reason")
    list_select_related = ("table__schema__database",)
    raw_id_fields = ("table", "group", "job", "run")


class DbtTestResultInline(admin.TabularInline):
    model = DbtTestResult
    fields = ("executed_at", "status", "failures", "message", "run")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(DbtTest)
class DbtTestAdmin(admin.ModelAdmin):
    list_display = ("name", "test_type", "status", "failures", "table", "column_name", "severity")
    list_filter = ("integration", "status", "test_type", "severity")
    search_fields = ("name", "unique_id", "message")
    list_select_related = ("table",)
    raw_id_fields = ("table", "node", "job", "run")
    inlines = [DbtTestResultInline]


@admin.register(DbtExposure)
class DbtExposureAdmin(admin.ModelAdmin):
    list_display = ("name", "label", "exposure_type", "owner_name", "maturity")
    list_filter = ("integration", "exposure_type", "maturity")
    search_fields = ("name", "label", "description")
    filter_horizontal = ("tables",)


@admin.register(DbtTerm)
class DbtTermAdmin(admin.ModelAdmin):
    list_display = ("name", "label", "kind", "term_type", "group")
    list_filter = ("integration", "kind", "term_type")
    search_fields = ("name", "label", "description")
    filter_horizontal = ("tables",)


@admin.register(DbtGroup)
class DbtGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "owner_name", "owner_email", "integration")
    search_fields = ("name", "owner_name", "owner_email")


@admin.register(TableLineage)
class TableLineageAdmin(admin.ModelAdmin):
    list_display = ("upstream", "downstream", "integration")
    list_filter = ("integration",)
    raw_id_fields = ("upstream", "downstream")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are shown by name and prefix only; their hash never leaves the database."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    search_fields = ("name", "user__username", "prefix")
    fields = ("user", "name", "prefix", "created_at", "last_used_at")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False  # created on the API tokens page, where the token is shown once
