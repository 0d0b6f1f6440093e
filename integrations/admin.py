"""Django admin for integrations and their sync runs. Secrets are never shown here."""

from django.contrib import admin, messages
from django.utils.html import format_html_join

from .models import Integration, SyncRun
from .services import (
    SyncAlreadyActive,
    integration_delete,
    integration_dependents_stranded,
    sync_start,
)
from .services.secrets import MASK


class SyncRunInline(admin.TabularInline):
    model = SyncRun
    fields = (
        "id",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "progress_done",
        "progress_total",
        "error",
    )
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at",)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "connector", "status", "last_synced_at", "created_at")
    list_filter = ("connector", "status")
    search_fields = ("name",)
    fields = (
        "name",
        "connector",
        "settings",
        "status",
        "last_synced_at",
        "last_sync",
        "created_by",
        "created_at",
    )
    readonly_fields = fields[1:]  # only the name is edited here
    inlines = [SyncRunInline]
    actions = ["sync_now"]

    def has_add_permission(self, request) -> bool:
        # Adding runs the connector's form, test and guards: use the Integrations tab or
        # `manage.py integration_add`.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # The last warehouse, while dbt Cloud builds on it, is disconnected from the
        # Integrations tab, whose confirmation says what happens to dbt Cloud.
        if obj is not None and integration_dependents_stranded(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj: Integration) -> None:
        integration_delete(integration=obj)

    def delete_queryset(self, request, queryset) -> None:
        for integration in queryset:
            integration_delete(integration=integration)

    @admin.display(description="Settings")
    def settings(self, obj: Integration):
        secret = set(obj.connector_obj.secret_fields)
        rows = [
            (key, MASK if key in secret else value) for key, value in sorted(obj.config.items())
        ]
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset) -> None:
        for integration in queryset:
            try:
                run = sync_start(integration=integration, user=request.user)
                if run.status == SyncRun.Status.FAILED:  # the broker refused its task
                    self.message_user(
                        request, f"{integration}: sync #{run.pk} failed: {run.error}", messages.ERROR
                    )
                else:
                    self.message_user(request, f"{integration}: sync #{run.pk} queued.")
            except SyncAlreadyActive as exc:
                self.message_user(request, f"{integration}: {exc}", level=messages.WARNING)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "integration",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "attempts",
    )
    list_filter = ("status", "trigger", "integration")
    list_select_related = ("integration",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
