"""Celery tasks: thin wrappers that look a run up and hand it to the sync service."""

from __future__ import annotations

import random

from celery import shared_task
from django.conf import settings

from .models import SyncRun
from .services import SyncOutcome, sync_execute, sync_reap_stale


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_execute_task(self, run_id: int) -> str:
    run = SyncRun.objects.filter(pk=run_id).select_related("integration").first()
    if run is None:
        return "deleted"  # deleted meanwhile
    outcome = sync_execute(run=run)
    if outcome is SyncOutcome.RETRY:
        # The service already put the run back in the queue state; attempts bound the retries.
        backoff = settings.SYNC_RETRY_BACKOFF * run.attempts
        # Jitter keeps many integrations that failed together from retrying together.
        raise self.retry(countdown=backoff + random.uniform(0, backoff / 2))
    return outcome.value


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
