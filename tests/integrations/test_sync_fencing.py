"""Two attempts of one sync side by side: only the newest may change the run or the catalog."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Table
from integrations.models import Integration, SyncRun
from integrations.services import SyncOutcome, sync_execute
from tests.support import gated_connector
from tests.support.connectors import registered
from tests.support.gated_connector import GATES, Gate


@pytest.fixture
def gated(transactional_db, settings):
    settings.SYNC_STALE_AFTER = 60
    settings.SYNC_HEARTBEAT_EVERY = 0  # the test ages the heartbeat itself
    gated_connector.reset()
    with registered("gated", "tests.support.gated_connector"):
        yield Integration.objects.create(connector="gated", name="gated", config={})
    gated_connector.reset()


class Attempt(threading.Thread):
    """sync_execute in a thread of its own, as a second worker would run it."""

    def __init__(self, run_id: int) -> None:
        super().__init__(daemon=True)
        self.run_id = run_id
        self.outcome: SyncOutcome | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.outcome = sync_execute(run=SyncRun.objects.get(pk=self.run_id))
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        finally:
            connection.close()

    def finish(self) -> SyncOutcome | None:
        self.join(timeout=60)
        assert not self.is_alive(), "the attempt did not finish"
        if self.error:
            raise self.error
        return self.outcome


def _take_over(run: SyncRun) -> tuple[Attempt, Attempt]:
    """Attempt 1 claims the run and hangs; its heartbeat goes stale; attempt 2 takes over."""
    first = Attempt(run.pk)
    first.start()
    assert GATES[1].reached.wait(timeout=30)
    SyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=120)
    )
    second = Attempt(run.pk)
    second.start()
    assert GATES[2].reached.wait(timeout=30)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.attempts == 2
    return first, second


def test_a_hung_attempt_that_wakes_with_an_error_cannot_requeue_the_live_one(gated):
    GATES[1] = Gate(fail="connection reset by peer")
    GATES[2] = Gate(table="customers")
    run = SyncRun.objects.create(integration=gated)
    first, second = _take_over(run)

    GATES[1].opened.set()
    assert first.finish() is SyncOutcome.SKIPPED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.attempts == 2
    assert "retrying" not in run.error

    GATES[2].opened.set()
    assert second.finish() is SyncOutcome.SUCCEEDED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.attempts == 2 and run.error == ""
    assert SyncRun.objects.filter(integration=gated).count() == 1


def test_a_hung_attempt_that_wakes_with_results_writes_none_of_them(gated):
    GATES[1] = Gate(table="stale_table")
    GATES[2] = Gate(table="customers")
    run = SyncRun.objects.create(integration=gated)
    first, second = _take_over(run)

    GATES[1].opened.set()
    assert first.finish() is SyncOutcome.SKIPPED
    assert not Table.objects.filter(name="stale_table").exists()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.attempts == 2

    GATES[2].opened.set()
    assert second.finish() is SyncOutcome.SUCCEEDED
    assert list(Table.objects.values_list("name", flat=True)) == ["customers"]
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED


def test_a_stale_attempt_cannot_fail_a_run_the_live_attempt_finished(gated):
    GATES[1] = Gate(fail="timed out")
    GATES[2] = Gate(table="customers")
    run = SyncRun.objects.create(integration=gated)
    first, second = _take_over(run)

    GATES[2].opened.set()
    assert second.finish() is SyncOutcome.SUCCEEDED
    GATES[1].opened.set()
    assert first.finish() is SyncOutcome.SKIPPED
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.error == ""
    gated.refresh_from_db()
    assert gated.status == Integration.Status.HEALTHY
