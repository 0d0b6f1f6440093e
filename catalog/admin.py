"""Django admin for the catalog."""

from django.contrib import admin

from .models import Column, Database, Schema, Table

READ_ONLY_SYNC_FIELDS = ("first_seen_run", "last_changed_run", "created_at", "updated_at")


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
