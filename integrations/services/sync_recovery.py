"""Recovering syncs that lost their worker or their message: run by beat every minute."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Integration, SyncRun
from .run_owner import owner_is_gone
from .sync import sync_send

logger = logging.getLogger(__name__)


def sync_reap_stale() -> list[int]:
    """Recover runs whose worker died and runs whose message was lost; return their ids.

    A message whose pool process was killed comes back from the broker on its own, and its
    new claim takes the run over. This covers the cases where it does not come back (a whole
    worker killed, a broker restarted without persistence, a message never sent)."""
    return _reap_running() + _resend_queued()


def _reap_running() -> list[int]:
    stale = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER)
    reaped = []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING):
        gone = bool(run.worker) and owner_is_gone(run.worker, run_id=run.pk)
        silent = run.heartbeat_at is None or run.heartbeat_at < stale
        if not (gone or silent):
            continue
        why = "has died" if gone else "stopped answering"
        # Fenced on the attempt seen: a claim made meanwhile by a live worker stands.
        mine = SyncRun.objects.filter(
            pk=run.pk, status=SyncRun.Status.RUNNING, attempts=run.attempts, worker=run.worker
        )
        if run.attempts >= settings.SYNC_MAX_ATTEMPTS:
            changed = mine.update(
                status=SyncRun.Status.FAILED,
                finished_at=timezone.now(),
                error=(
                    f"The worker running this sync {why}, {run.attempts} times (killed or out "
                    "of memory?). The previous catalog is unchanged; check the worker logs, "
                    "then sync again."
                ),
            )
            if changed:
                Integration.objects.filter(pk=run.integration_id).update(
                    status=Integration.Status.FAILING, last_sync=run
                )
        else:
            changed = mine.update(
                status=SyncRun.Status.QUEUED,
                queued_at=timezone.now(),
                error=f"The worker running this sync {why}; it was queued again.",
            )
            if changed:
                sync_send(run=run)
        if changed:
            reaped.append(run.pk)
            logger.warning("sync %s reaped: its worker %s", run.pk, why)
    return reaped


def _resend_queued() -> list[int]:
    """A queued run no worker took for a while has most likely lost its message (a broker
    restarted without persistence): send it again, and give up after a bound. A duplicate
    message is harmless: only one claim of a queued run succeeds."""
    now = timezone.now()
    due = now - timedelta(seconds=settings.SYNC_RESEND_AFTER)
    resent = []
    waiting = SyncRun.objects.annotate(since=Coalesce("queued_at", "created_at")).filter(
        status=SyncRun.Status.QUEUED, since__lt=due
    )
    for run in waiting:
        mine = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED, sends=run.sends)
        if run.sends >= settings.SYNC_MAX_RESENDS:
            waited = int((now - run.created_at).total_seconds() // 60)
            changed = mine.update(
                status=SyncRun.Status.FAILED,
                finished_at=now,
                error=(
                    f"No worker started this sync in {waited} minutes, though it was sent "
                    f"{run.sends + 1} times. Check that a Celery worker is running and consumes "
                    f"the queue '{settings.CELERY_TASK_DEFAULT_QUEUE}', then sync again."
                ),
            )
            if changed:
                Integration.objects.filter(pk=run.integration_id).update(
                    status=Integration.Status.FAILING, last_sync=run
                )
        else:
            changed = mine.update(queued_at=now, sends=F("sends") + 1)
            if changed:
                sync_send(run=run)
        if changed:
            resent.append(run.pk)
            logger.warning("sync %s was queued too long: sent again or given up", run.pk)
    return resent
