"""Integrations (a connected warehouse or tool) and the sync runs that fill the catalog from them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_cryptography.fields import encrypt

from .connectors import connector_choices, get_connector


class Integration(models.Model):
    """A connection to a warehouse or a tool. Its whole configuration, secrets
    included, lives in one encrypted field; `public_config` is the part that may be shown."""

    class Status(models.TextChoices):
        NEW = "new", "Never synced"
        HEALTHY = "healthy", "Healthy"
        FAILING = "failing", "Last sync failed"

    connector = models.CharField(max_length=50, choices=connector_choices)
    name = models.CharField(max_length=200, unique=True)
    config = encrypt(models.JSONField(default=dict))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # A cron expression (minute hour day month weekday) in settings.TIME_ZONE; empty: no schedule.
    schedule = models.CharField(max_length=100, blank=True)
    # What the connector asked to remember for its next sync (dbt Cloud: runs ingested).
    sync_state = models.JSONField(default=dict, blank=True)
    last_sync = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "manage_integrations",
                "Can connect, edit, sync, schedule and disconnect integrations",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Key names only: a repr ends up in logs and tracebacks.
        return f"<Integration {self.pk} {self.connector} keys={sorted(self.config or {})}>"

    @property
    def connector_obj(self):
        return get_connector(self.connector)

    def public_config(self) -> dict[str, Any]:
        secret = set(self.connector_obj.secret_fields)
        return {k: v for k, v in (self.config or {}).items() if k not in secret}

    def secret_values(self) -> list[str]:
        """The stored secrets, so that messages can be scrubbed of them."""
        return [
            str(self.config[k])
            for k in self.connector_obj.secret_fields
            if (self.config or {}).get(k)
        ]


class SyncRun(models.Model):
    """One extraction of one integration, from queued to succeeded or failed."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULE = "schedule", "Schedule"
        CHAINED = "chained", "Chained"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The fencing token: each claim adds one, and every write of an attempt names its
    # number, so an attempt that was taken over can no longer change the run.
    attempts = models.PositiveIntegerField(default=0)
    # The process that claimed the current attempt ("node|machine|pid|start time"), so a
    # dead owner is known by its identity rather than by the age of its heartbeat.
    worker = models.CharField(max_length=300, blank=True)
    # When the run's task was last sent (or is due, after a retry's countdown), and how
    # often it was sent again because no worker took it: a lost message is sent anew.
    queued_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # {"table": {"created": 3, "updated": 1, "removed": 0}, ...}
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    warnings_dropped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database itself refuses a second active run of one integration.
            models.UniqueConstraint(
                fields=["integration"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_sync_per_integration",
            )
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.integration_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    COUNT_ORDER = ("database", "schema", "table", "column")

    @property
    def count_rows(self) -> list[tuple[str, int, int, int]]:
        """(kind, created, updated, removed) for the kinds that changed, in a stable order."""
        kinds = sorted(
            self.counts or {},
            key=lambda k: (
                k not in self.COUNT_ORDER,
                self.COUNT_ORDER.index(k) if k in self.COUNT_ORDER else 0,
                k,
            ),
        )
        rows = []
        for kind in kinds:
            c = self.counts[kind]
            if c.get("created") or c.get("updated") or c.get("removed"):
                rows.append((kind, c.get("created", 0), c.get("updated", 0), c.get("removed", 0)))
        return rows

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))
