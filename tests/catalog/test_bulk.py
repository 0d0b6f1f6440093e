"""Inserting and updating many rows in one statement (catalog/services/bulk.py), on the
real PostgreSQL: the same rows Django's bulk_create and bulk_update would write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import DbtJob, DbtJobFact, DbtRun
from catalog.services import bulk
from integrations.models import Integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def job() -> DbtJob:
    dbt = Integration.objects.create(connector="dbt_cloud", name="dbt", config={})
    return DbtJob.objects.create(integration=dbt, dbt_id=1, name="Nightly")


def facts(job: DbtJob, n: int) -> list[DbtJobFact]:
    run = DbtRun.objects.create(
        integration=job.integration, job=job, dbt_id=7, status_code=10, status="success"
    )
    return [
        DbtJobFact(
            integration=job.integration,
            job=job,
            run=run if i % 2 else None,
            unique_id=f"model.p.m{i}",
            kind="execution",
            finished_at=datetime(2026, 12, 1, 5, i % 60, tzinfo=UTC),
            values={"status": "success", "nested": {"rows": [i, None, "ü"]}, "i": i},
        )
        for i in range(n)
    ]


def test_rows_are_inserted_as_given_and_get_their_ids_in_order(job):
    objs = facts(job, 250)
    with CaptureQueriesContext(connection) as queries:
        bulk.bulk_insert(DbtJobFact, objs)
    assert len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")]) == 1
    stored = {f.pk: f for f in DbtJobFact.objects.all()}
    assert len(stored) == 250
    for obj in objs:
        row = stored[obj.pk]
        assert (row.unique_id, row.run_id, row.finished_at, row.values) == (
            obj.unique_id,
            obj.run_id,
            obj.finished_at,
            obj.values,
        )


def test_a_payload_past_the_bound_goes_in_several_statements_with_the_right_ids(job, monkeypatch):
    monkeypatch.setattr(bulk, "INSERT_PAYLOAD", 2000)
    objs = facts(job, 40)
    with CaptureQueriesContext(connection) as queries:
        bulk.bulk_insert(DbtJobFact, objs)
    assert len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")]) > 1
    for obj in objs:
        assert DbtJobFact.objects.get(pk=obj.pk).unique_id == obj.unique_id


def test_auto_now_times_are_set_as_save_sets_them(job):
    from catalog.models import DbtTest, DbtTestResult

    test = DbtTest.objects.create(
        integration=job.integration, unique_id="test.p.t", name="t", test_type="generic"
    )
    before = datetime.now(UTC)
    bulk.bulk_insert(DbtTestResult, [DbtTestResult(test=test, job=job, status="fail")])
    (row,) = DbtTestResult.objects.all()
    assert row.recorded_at >= before and row.status == "fail"
