"""`manage.py sync <integration id or name> [--wait]`: queue a sync, optionally wait for it."""

import time

from django.core.management.base import BaseCommand, CommandError

from catalog.management.commands.catalog_export import find_integration
from integrations.models import SyncRun
from integrations.services import SyncAlreadyActive, sync_start


class Command(BaseCommand):
    help = "Queue a sync of an integration; with --wait, exit non-zero unless it succeeds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("integration", help="Integration name or id.")
        parser.add_argument("--wait", action="store_true", help="Wait for a worker to finish it.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait at most.")

    def handle(self, *args, integration, wait, timeout, **options) -> None:
        target = find_integration(integration)
        try:
            run = sync_start(integration=target, trigger=SyncRun.Trigger.MANUAL)
        except SyncAlreadyActive as exc:
            if not wait:
                raise CommandError(str(exc)) from None
            run = exc.run
            self.stdout.write(f"Sync #{run.pk} is already {run.status}; waiting for it.")
        else:
            if run.status == SyncRun.Status.FAILED:  # the broker refused its task
                raise CommandError(f"Sync #{run.pk} failed: {run.error}")
            self.stdout.write(f"Sync #{run.pk} of '{target.name}' queued.")
        if not wait:
            return
        run = wait_for(run, timeout=timeout)
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Sync #{run.pk} {run.status}: {run.error or 'no error recorded'}")
        self.stdout.write(f"Sync #{run.pk} succeeded: {run.counts}")


def wait_for(run: SyncRun, *, timeout: float) -> SyncRun:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        run.refresh_from_db()
        if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
            return run
        if time.monotonic() > deadline:
            raise CommandError(
                f"Sync #{run.pk} still {run.status} after {timeout:.0f}s: is a worker running?"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
