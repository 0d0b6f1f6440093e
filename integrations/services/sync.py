"""Running syncs: queueing one, claiming and executing it in a worker, and recovering
runs whose worker died."""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.services import catalog_apply, dbt_apply

from ..connectors.base import ConnectorError, TransientConnectorError
from ..models import Integration, SyncRun
from .secrets import scrub

logger = logging.getLogger(__name__)


class SyncAlreadyActive(Exception):
    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"Sync #{run.pk} of this integration is already {run.status}.")
        self.run = run


class SyncOutcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"
    SKIPPED = "skipped"


def sync_start(
    *, integration: Integration, trigger: str = SyncRun.Trigger.MANUAL, user=None
) -> SyncRun:
    """Queue a sync; its task is sent once the transaction commits."""
    from ..tasks import sync_execute_task

    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                integration=integration, trigger=trigger, triggered_by=user
            )
    except IntegrityError:
        active = SyncRun.objects.filter(integration=integration, status__in=SyncRun.ACTIVE).first()
        if active is None:
            raise
        raise SyncAlreadyActive(active) from None
    transaction.on_commit(lambda: sync_execute_task.delay(run.pk))
    logger.info("sync %s of integration %s queued (%s)", run.pk, integration.pk, trigger)
    return run


class RunReporter:
    """Writes progress and a heartbeat as the extraction goes; keeps a capped list of warnings."""

    def __init__(self, run: SyncRun, secrets: list[str]) -> None:
        self.run = run
        self.secrets = secrets
        self.warnings: list[str] = []
        self.dropped = 0
        self.skipped_schemas: set[tuple[str, str]] = set()

    def progress(self, done: int, total: int) -> None:
        self.run.progress_done, self.run.progress_total = done, total
        SyncRun.objects.filter(pk=self.run.pk).update(
            progress_done=done, progress_total=total, heartbeat_at=timezone.now()
        )

    def warning(self, message: str) -> None:
        if len(self.warnings) < settings.SYNC_WARNINGS_CAP:
            self.warnings.append(scrub(message, self.secrets))
        else:
            self.dropped += 1

    def skipped(self, database: str, schema: str) -> None:
        self.skipped_schemas.add((database, schema))

    def alive(self) -> None:
        SyncRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())


def _claim(run: SyncRun) -> bool:
    """Take the run for this worker: queued, or running with a worker gone silent."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_STALE_AFTER)
    claimed = (
        SyncRun.objects.filter(pk=run.pk)
        .filter(
            Q(status=SyncRun.Status.QUEUED)
            | Q(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale)
        )
        .update(
            status=SyncRun.Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
    )
    run.refresh_from_db()
    return bool(claimed)


def sync_execute(*, run: SyncRun) -> SyncOutcome:
    """Extract from the warehouse, then apply it to the catalog in one transaction."""
    if not _claim(run):
        logger.info("sync %s not claimed: it is %s", run.pk, run.status)
        return SyncOutcome.SKIPPED
    integration = run.integration
    secrets = integration.secret_values()
    reporter = RunReporter(run, secrets)
    logger.info(
        "sync %s of integration %s started (attempt %s)", run.pk, integration.pk, run.attempts
    )
    try:
        connector = integration.connector_obj
        records = list(
            connector.extract(
                integration.config, reporter=reporter, state=integration.sync_state or {}
            )
        )
        apply = catalog_apply if connector.is_warehouse else dbt_apply
        counts = apply(
            integration=integration,
            run=run,
            records=handed_over(records),
            warn=reporter.warning,
            keep_schemas=reporter.skipped_schemas,
        )
    except TransientConnectorError as exc:
        message = scrub(str(exc), secrets)
        if run.attempts < settings.SYNC_MAX_ATTEMPTS:
            _requeue(run, reporter, f"Attempt {run.attempts} failed, retrying: {message}")
            return SyncOutcome.RETRY
        _fail(run, reporter, f"{message} (gave up after {run.attempts} attempts)")
        return SyncOutcome.FAILED
    except ConnectorError as exc:
        _fail(run, reporter, scrub(str(exc), secrets))
        return SyncOutcome.FAILED
    except Exception as exc:
        logger.error("sync %s crashed: %s", run.pk, scrub(traceback.format_exc(), secrets))
        _fail(
            run,
            reporter,
            f"The sync stopped on an unexpected error ({type(exc).__name__}: "
            f"{scrub(str(exc), secrets)}). The previous catalog is unchanged; "
            "the worker log has the details.",
        )
        return SyncOutcome.FAILED
    _succeed(run, reporter, counts)
    _start_dependents(integration)
    return SyncOutcome.SUCCEEDED


def handed_over(records: list) -> Iterator:
    """Yield the records, emptying the list as it goes: the apply then holds the only
    reference to each, and can free a run's parsed artifacts once it has stored them."""
    records.reverse()
    while records:
        yield records.pop()


def _save_finished(run: SyncRun, reporter: RunReporter, **fields) -> None:
    fields.setdefault("finished_at", timezone.now())
    fields["warnings"] = reporter.warnings
    fields["warnings_dropped"] = reporter.dropped
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()


def _succeed(run: SyncRun, reporter: RunReporter, counts: dict) -> None:
    total = run.progress_total
    _save_finished(
        run, reporter, status=SyncRun.Status.SUCCEEDED, counts=counts, error="", progress_done=total
    )
    Integration.objects.filter(pk=run.integration_id).update(
        status=Integration.Status.HEALTHY, last_synced_at=run.finished_at, last_sync=run
    )
    logger.info("sync %s succeeded: %s", run.pk, counts)


def _fail(run: SyncRun, reporter: RunReporter, message: str) -> None:
    _save_finished(run, reporter, status=SyncRun.Status.FAILED, error=message)
    Integration.objects.filter(pk=run.integration_id).update(
        status=Integration.Status.FAILING, last_sync=run
    )
    logger.warning("sync %s failed: %s", run.pk, message)


def _requeue(run: SyncRun, reporter: RunReporter, message: str) -> None:
    _save_finished(run, reporter, status=SyncRun.Status.QUEUED, error=message, finished_at=None)
    logger.warning("sync %s will be retried: %s", run.pk, message)


def _start_dependents(integration: Integration) -> None:
    """A finished warehouse sync starts the syncs of integrations that build on it (dbt Cloud)."""
    from ..connectors import all_entries

    category = integration.connector_obj.category
    keys = [e.key for e in all_entries() if e.connector and category in e.connector.requires]
    for dependent in Integration.objects.filter(connector__in=keys):
        try:
            sync_start(integration=dependent, trigger=SyncRun.Trigger.CHAINED)
        except SyncAlreadyActive:
            pass


def sync_reap_stale() -> list[int]:
    """Recover runs whose worker died: requeue them, or fail them once out of attempts.

    A message whose worker was killed comes back from the broker on its own; this
    covers the cases where it does not (a lost message, a claim refused meanwhile).
    """
    from ..tasks import sync_execute_task

    stale = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER)
    reaped = []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale):
        if run.attempts >= settings.SYNC_MAX_ATTEMPTS:
            changed = SyncRun.objects.filter(
                pk=run.pk, status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale
            ).update(
                status=SyncRun.Status.FAILED,
                finished_at=timezone.now(),
                error=(
                    f"The worker running this sync stopped answering {run.attempts} times "
                    "(killed or out of memory?). The previous catalog is unchanged; check the "
                    "worker logs, then sync again."
                ),
            )
            if changed:
                Integration.objects.filter(pk=run.integration_id).update(
                    status=Integration.Status.FAILING, last_sync=run
                )
        else:
            changed = SyncRun.objects.filter(
                pk=run.pk, status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale
            ).update(
                status=SyncRun.Status.QUEUED,
                error="The worker running this sync stopped answering; it was queued again.",
            )
            if changed:
                transaction.on_commit(lambda pk=run.pk: sync_execute_task.delay(pk))
        if changed:
            reaped.append(run.pk)
            logger.warning("sync %s reaped after its worker went silent", run.pk)
    return reaped
