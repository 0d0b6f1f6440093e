"""One attempt of a sync run, fenced: every write it makes names its attempt number, so an
attempt that was taken over (its worker hung, then woke up) can no longer change the run."""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connection
from django.utils import timezone

from ..models import SyncRun

logger = logging.getLogger(__name__)


class StaleAttempt(Exception):
    """Another attempt owns the run now; this one must stop without writing."""

    def __init__(self, run_id: int, number: int) -> None:
        super().__init__(f"Attempt {number} of sync #{run_id} was taken over by a newer one.")
        self.run_id, self.number = run_id, number


class Attempt:
    def __init__(self, run: SyncRun) -> None:
        self.run_id = run.pk
        self.number = run.attempts

    def _mine(self):
        return SyncRun.objects.filter(
            pk=self.run_id, attempts=self.number, status=SyncRun.Status.RUNNING
        )

    def update(self, **fields) -> None:
        """Write to the run while this attempt still owns it; raise StaleAttempt if not."""
        if not self._mine().update(**fields):
            raise StaleAttempt(self.run_id, self.number)

    def hold(self) -> None:
        """Inside a transaction: lock the run while this attempt owns it, so that nobody
        takes it over before the transaction commits; raise StaleAttempt if it lost it."""
        if not self._mine().select_for_update().exists():
            raise StaleAttempt(self.run_id, self.number)


class Heartbeat:
    """Writes the attempt's heartbeat from a thread of its own, so a slow query or a long
    apply does not make a live worker look dead; it stops once the attempt is taken over."""

    def __init__(self, attempt: Attempt, *, every: float) -> None:
        self.attempt = attempt
        self.every = every
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-sync-{attempt.run_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    self.attempt.update(heartbeat_at=timezone.now())
                except StaleAttempt:
                    self.lost = True
                    logger.warning(
                        "sync %s: attempt %s was taken over; its heartbeat stops",
                        self.attempt.run_id,
                        self.attempt.number,
                    )
                    return
                except DatabaseError as exc:  # a blip: the next beat tries again
                    logger.warning("sync %s: heartbeat not written: %s", self.attempt.run_id, exc)
        finally:
            connection.close()  # this thread's own connection
