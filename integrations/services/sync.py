"""Running syncs: queueing one, handing it to the workers, and claiming and executing it in
a worker, one fenced attempt at a time."""

from __future__ import annotations

import enum
import logging
import random
import traceback
from collections.abc import Iterable, Iterator
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.services import catalog_apply, dbt_apply

from ..connectors.base import ConnectorError, TransientConnectorError
from ..models import Integration, SyncRun
from .run_attempt import Attempt, Heartbeat, StaleAttempt
from .run_owner import current_owner, owner_is_gone
from .secrets import scrub

logger = logging.getLogger(__name__)

# A click on "Sync now" waits for the broker at most a few seconds, not minutes.
SEND_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


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
    """Queue a sync; its task is sent once the transaction commits. If the broker refuses
    it, the run fails with the reason (the returned run says so once that has happened)."""
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                integration=integration,
                trigger=trigger,
                triggered_by=user,
                queued_at=timezone.now(),
            )
    except IntegrityError:
        active = SyncRun.objects.filter(integration=integration, status__in=SyncRun.ACTIVE).first()
        if active is None:
            raise
        raise SyncAlreadyActive(active) from None
    transaction.on_commit(lambda: sync_send(run=run))
    logger.info("sync %s of integration %s queued (%s)", run.pk, integration.pk, trigger)
    return run


def sync_send(*, run: SyncRun, countdown: float | None = None) -> bool:
    """Hand the run's task to the broker. A message that cannot be sent fails the run with
    the reason, rather than leaving it queued for a task that will never come."""
    from ..tasks import sync_execute_task

    try:
        sync_execute_task.apply_async(
            (run.pk,), countdown=countdown, retry=True, retry_policy=SEND_RETRY_POLICY
        )
    except Exception as exc:  # kombu and redis raise many kinds; any of them means "not sent"
        reason = (
            "The sync could not be handed to the workers: the task broker did not accept it "
            f"({broker_error(exc)}). Nothing was synced; sync again once the broker is back."
        )
        _fail_queued(run, reason)
        logger.error("sync %s not sent to the broker: %s", run.pk, broker_error(exc))
        return False
    return True


def broker_error(exc: Exception) -> str:
    password = urlsplit(settings.CELERY_BROKER_URL).password or ""
    return scrub(f"{type(exc).__name__}: {exc}", [password])


def _fail_queued(run: SyncRun, reason: str) -> None:
    now = timezone.now()
    failed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.FAILED, finished_at=now, error=reason
    )
    if failed:
        Integration.objects.filter(pk=run.integration_id).update(
            status=Integration.Status.FAILING, last_sync=run
        )
        run.status, run.finished_at, run.error = SyncRun.Status.FAILED, now, reason


class RunReporter:
    """Writes progress and a heartbeat as the extraction goes; keeps a capped list of warnings."""

    def __init__(self, attempt: Attempt, run: SyncRun, secrets: list[str]) -> None:
        self.attempt = attempt
        self.run = run
        self.secrets = secrets
        self.warnings: list[str] = []
        self.dropped = 0
        self.skipped_schemas: set[tuple[str, str]] = set()

    def progress(self, done: int, total: int) -> None:
        self.run.progress_done, self.run.progress_total = done, total
        self.attempt.update(progress_done=done, progress_total=total, heartbeat_at=timezone.now())

    def warning(self, message: str) -> None:
        if len(self.warnings) < settings.SYNC_WARNINGS_CAP:
            self.warnings.append(scrub(message, self.secrets))
        else:
            self.dropped += 1

    def skipped(self, database: str, schema: str) -> None:
        self.skipped_schemas.add((database, schema))

    def alive(self) -> None:
        self.attempt.update(heartbeat_at=timezone.now())


def _claim(run: SyncRun, *, node: str = "") -> Attempt | None:
    """Take the run for this worker process: queued, or running with an owner that is gone
    (known by its identity) or that has gone silent (its heartbeat is stale)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_STALE_AFTER)
    claimable = Q(status=SyncRun.Status.QUEUED) | Q(
        status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale
    )
    current = SyncRun.objects.filter(pk=run.pk).values("status", "worker", "attempts").first()
    if current and current["status"] == SyncRun.Status.RUNNING and current["worker"]:
        if owner_is_gone(current["worker"], run_id=run.pk):
            # Only that owner's attempt: a claim made meanwhile by another worker stands.
            claimable |= Q(
                status=SyncRun.Status.RUNNING,
                worker=current["worker"],
                attempts=current["attempts"],
            )
    claimed = (
        SyncRun.objects.filter(pk=run.pk)
        .filter(claimable)
        .update(
            status=SyncRun.Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            worker=str(current_owner(node)),
        )
    )
    run.refresh_from_db()
    return Attempt(run) if claimed else None


def sync_execute(*, run: SyncRun, node: str = "") -> SyncOutcome:
    """Extract from the warehouse, then apply it to the catalog in one transaction.
    `node` names the Celery worker running it, for telling later whether it is still there."""
    attempt = _claim(run, node=node)
    if attempt is None:
        logger.info("sync %s not claimed: it is %s", run.pk, run.status)
        return SyncOutcome.SKIPPED
    try:
        with Heartbeat(attempt, every=settings.SYNC_HEARTBEAT_EVERY):
            return _execute(run, attempt)
    except StaleAttempt as exc:
        logger.warning("sync %s: %s Its results are dropped.", run.pk, exc)
        return SyncOutcome.SKIPPED


def _execute(run: SyncRun, attempt: Attempt) -> SyncOutcome:
    integration = run.integration
    secrets = integration.secret_values()
    reporter = RunReporter(attempt, run, secrets)
    logger.info(
        "sync %s of integration %s started (attempt %s)", run.pk, integration.pk, run.attempts
    )
    try:
        connector = integration.connector_obj
        extracted = connector.extract(
            integration.config, reporter=reporter, state=integration.sync_state or {}
        )
        records = _bounded(extracted) if connector.is_warehouse else list(extracted)
        apply = catalog_apply if connector.is_warehouse else dbt_apply
        with transaction.atomic():
            counts = apply(
                integration=integration,
                run=run,
                records=handed_over(records),
                warn=reporter.warning,
                keep_schemas=reporter.skipped_schemas,
            )
            # A newer attempt may have taken the run over meanwhile: then all of this rolls back.
            attempt.hold()
            _succeed(run, attempt, reporter, counts)
    except StaleAttempt:
        raise
    except TransientConnectorError as exc:
        message = scrub(str(exc), secrets)
        if run.attempts < settings.SYNC_MAX_ATTEMPTS:
            _requeue(run, attempt, reporter, f"Attempt {run.attempts} failed, retrying: {message}")
            return SyncOutcome.RETRY
        _fail(run, attempt, reporter, f"{message} (gave up after {run.attempts} attempts)")
        return SyncOutcome.FAILED
    except ConnectorError as exc:
        _fail(run, attempt, reporter, scrub(str(exc), secrets))
        return SyncOutcome.FAILED
    except Exception as exc:
        logger.error("sync %s crashed: %s", run.pk, scrub(traceback.format_exc(), secrets))
        _fail(
            run,
            attempt,
            reporter,
            f"The sync stopped on an unexpected error ({type(exc).__name__}: "
            f"{scrub(str(exc), secrets)}). The previous catalog is unchanged; "
            "the worker log has the details.",
        )
        return SyncOutcome.FAILED
    _start_dependents(run, integration)
    return SyncOutcome.SUCCEEDED


def _bounded(records: Iterable) -> list:
    """A warehouse's records, up to SYNC_MAX_OBJECTS: past it the extraction stops with a
    reason, before the catalog (or this worker's memory) takes a runaway warehouse whole."""
    limit = settings.SYNC_MAX_OBJECTS
    kept = []
    for record in records:
        kept.append(record)
        if len(kept) > limit:
            raise ConnectorError(
                f"The warehouse holds more than {limit:,} databases, schemas, tables and "
                "columns (SYNC_MAX_OBJECTS): the sync stopped there and the catalog keeps what "
                "it had. Narrow the integration to fewer schemas, or raise the setting."
            )
    return kept


def handed_over(records: list) -> Iterator:
    """Yield the records, emptying the list as it goes: the apply then holds the only
    reference to each, and can free a run's parsed artifacts once it has stored them."""
    records.reverse()
    while records:
        yield records.pop()


def _save_finished(run: SyncRun, attempt: Attempt, reporter: RunReporter, **fields) -> None:
    fields.setdefault("finished_at", timezone.now())
    fields["warnings"] = reporter.warnings
    fields["warnings_dropped"] = reporter.dropped
    attempt.update(**fields)
    run.refresh_from_db()


def _succeed(run: SyncRun, attempt: Attempt, reporter: RunReporter, counts: dict) -> None:
    total = run.progress_total
    _save_finished(
        run,
        attempt,
        reporter,
        status=SyncRun.Status.SUCCEEDED,
        counts=counts,
        error="",
        progress_done=total,
    )
    Integration.objects.filter(pk=run.integration_id).update(
        status=Integration.Status.HEALTHY, last_synced_at=run.finished_at, last_sync=run
    )
    logger.info("sync %s succeeded: %s", run.pk, counts)


def _fail(run: SyncRun, attempt: Attempt, reporter: RunReporter, message: str) -> None:
    _save_finished(run, attempt, reporter, status=SyncRun.Status.FAILED, error=message)
    Integration.objects.filter(pk=run.integration_id).update(
        status=Integration.Status.FAILING, last_sync=run
    )
    logger.warning("sync %s failed: %s", run.pk, message)


def _requeue(run: SyncRun, attempt: Attempt, reporter: RunReporter, message: str) -> None:
    backoff = settings.SYNC_RETRY_BACKOFF * run.attempts
    # Jitter keeps many integrations that failed together from retrying together.
    countdown = backoff + random.uniform(0, backoff / 2)
    _save_finished(
        run,
        attempt,
        reporter,
        status=SyncRun.Status.QUEUED,
        error=message,
        finished_at=None,
        queued_at=timezone.now() + timedelta(seconds=countdown),
    )
    logger.warning("sync %s will be retried in %.0f s: %s", run.pk, countdown, message)
    sync_send(run=run, countdown=countdown)


def _start_dependents(run: SyncRun, integration: Integration) -> None:
    """A finished warehouse sync starts the syncs of integrations that build on it (dbt Cloud).
    One already queued or running is not started twice; the warehouse's run says so."""
    from ..connectors import all_entries

    category = integration.connector_obj.category
    keys = [e.key for e in all_entries() if e.connector and category in e.connector.requires]
    notes = []
    for dependent in Integration.objects.filter(connector__in=keys):
        try:
            sync_start(integration=dependent, trigger=SyncRun.Trigger.CHAINED)
        except SyncAlreadyActive as exc:
            notes.append(
                f"{dependent.name} was not started after this sync: its sync "
                f"#{exc.run.pk} is already {exc.run.status}."
            )
    if notes:
        warnings = (run.warnings or []) + notes
        SyncRun.objects.filter(pk=run.pk).update(warnings=warnings)
        run.warnings = warnings
