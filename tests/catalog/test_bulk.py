"""Inserting and updating many rows in one statement (catalog/services/bulk.py), on the
real PostgreSQL: the same rows Django's bulk_create and bulk_update would write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import DbtJob, DbtJobFact, DbtNode, DbtRun, DbtTest, DbtTestResult
from catalog.services import bulk
from integrations.models import Integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def job() -> DbtJob:
    dbt = Integration.objects.create(connector="dbt_cloud", name="dbt", config={})
    return DbtJob.objects.create(integration=dbt, dbt_id=1, name="Nightly")


def facts(job: DbtJob, n: int) -> list[dict]:
    run = DbtRun.objects.create(
        integration=job.integration, job=job, dbt_id=7, status_code=10, status="success"
    )
    return [
        {
            "integration_id": job.integration_id,
            "job_id": job.pk,
            "run_id": run.pk if i % 2 else None,
            "unique_id": f"model.p.m{i}",
            "kind": "execution",
            # Microseconds: Django's JSON encoder would cut them to milliseconds.
            "finished_at": datetime(2026, 12, 1, 5, i % 60, 7, 123456 + i, tzinfo=UTC),
            "values": {"status": "success", "nested": {"rows": [i, None, "ü"]}, "i": i},
        }
        for i in range(n)
    ]


def inserts(queries) -> int:
    return len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")])


def test_rows_are_inserted_as_given_and_get_their_ids_in_order(job):
    rows = facts(job, 250)
    with CaptureQueriesContext(connection) as queries:
        ids = bulk.insert_rows(DbtJobFact, rows)
    assert inserts(queries) == 1
    stored = {f.pk: f for f in DbtJobFact.objects.all()}
    assert len(stored) == 250 and len(set(ids)) == 250
    for pk, row in zip(ids, rows, strict=True):
        got = stored[pk]
        assert (got.unique_id, got.run_id, got.finished_at, got.values) == (
            row["unique_id"],
            row["run_id"],
            row["finished_at"],
            row["values"],
        )


def test_a_payload_past_the_bound_goes_in_several_statements_with_the_right_ids(job, monkeypatch):
    monkeypatch.setattr(bulk, "INSERT_PAYLOAD", 2000)
    rows = facts(job, 40)
    with CaptureQueriesContext(connection) as queries:
        ids = bulk.insert_rows(DbtJobFact, iter(rows))  # rows may come as they are made
    assert inserts(queries) > 1
    for pk, row in zip(ids, rows, strict=True):
        assert DbtJobFact.objects.get(pk=pk).unique_id == row["unique_id"]


def test_fields_left_out_take_their_defaults_and_auto_now_times_are_set(job):
    before = datetime.now(UTC)
    (node_id,) = bulk.insert_rows(
        DbtNode,
        [{"integration_id": job.integration_id, "unique_id": "model.p.m", "name": "m"}],
    )
    node = DbtNode.objects.get(pk=node_id)
    saved = DbtNode.objects.create(integration=job.integration, unique_id="model.p.n", name="n")
    for name in ("tags", "meta", "columns", "removed", "match_status", "catalog_columns"):
        assert getattr(node, name) == getattr(saved, name), name
    assert node.created_at >= before and node.updated_at >= before

    test = DbtTest.objects.create(
        integration=job.integration, unique_id="test.p.t", name="t", test_type="generic"
    )
    bulk.insert_rows(DbtTestResult, [{"test_id": test.pk, "job_id": job.pk, "status": "fail"}])
    (row,) = DbtTestResult.objects.all()
    assert row.recorded_at >= before and row.status == "fail"


def test_a_value_for_a_column_the_model_lacks_is_refused_not_dropped(job):
    row = {**facts(job, 1)[0], "job": job.pk}  # the field's name, not its column
    with pytest.raises(ValueError, match="DbtJobFact has no column job"):
        bulk.insert_rows(DbtJobFact, [row])
    assert not DbtJobFact.objects.exists()


def test_updated_rows_keep_their_microseconds(job):
    (pk,) = bulk.insert_rows(DbtJobFact, facts(job, 1))
    later = datetime(2026, 12, 2, 6, 1, 2, 999999, tzinfo=UTC)
    assert bulk.bulk_update_rows(DbtJobFact, [{"id": pk, "finished_at": later}], ["finished_at"])
    assert DbtJobFact.objects.get(pk=pk).finished_at == later
