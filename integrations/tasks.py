"""Celery tasks: thin wrappers that look a run up and hand it to the sync service."""

from __future__ import annotations

from celery import shared_task

from .models import SyncRun
from .services import sync_execute, sync_reap_stale


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_execute_task(self, run_id: int) -> str:
    run = SyncRun.objects.filter(pk=run_id).select_related("integration").first()
    if run is None:
        return "deleted"  # deleted meanwhile
    # The service queues a retry itself (a new message with a countdown), so that a broker
    # refusing it fails the run with the reason instead of leaving it queued.
    return sync_execute(run=run, node=self.request.hostname or "").value


@shared_task
def sync_reap_stale_task() -> list[int]:
    return sync_reap_stale()


@shared_task
def sync_scheduled_task(integration_id: int) -> str:
    from .models import Integration
    from .services import SyncAlreadyActive, sync_start

    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return "deleted"
    try:
        sync_start(integration=integration, trigger=SyncRun.Trigger.SCHEDULE)
    except SyncAlreadyActive:
        return "already active"
    return "queued"
