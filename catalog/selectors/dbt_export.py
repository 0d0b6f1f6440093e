"""What dbt added, shaped for `catalog_export`: per table, and per dbt Cloud integration.
A fixed number of queries whatever the number of nodes, tests or edges."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import F

from ..models import (
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    TableLineage,
)
from .provenance import (
    builds_by_table,
    node_identity,
    node_provenance,
    provenance_json,
    test_provenance,
)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def dbt_by_table(table_ids: list[int], table_paths: dict[int, str]) -> dict[int, dict[str, Any]]:
    result: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "nodes": [],
            "tests": [],
            "jobs": [],
            "exposures": [],
            "terms": [],
            "upstream": [],
            "downstream": [],
        }
    )
    jobs = {j.pk: j for j in DbtJob.objects.only("pk", "dbt_id", "name")}
    runs = {r.pk: r for r in DbtRun.objects.only("pk", "dbt_id", "url", "finished_at")}
    groups = dict(DbtGroup.objects.values_list("pk", "unique_id"))
    for n in DbtNode.objects.filter(table_id__in=table_ids, removed=False).order_by("unique_id"):
        result[n.table_id]["nodes"].append(
            {
                **node_identity(n),
                "group": groups.get(n.group_id),
                "contract_enforced": n.contract_enforced,
                "constraints": n.constraints,
                "description": n.description,
                "tags": n.tags,
                "owner": n.owner,
                "meta": n.meta,
                "package": n.package_name,
                "file": n.original_file_path,
                "compiled_code": n.compiled_code,
                "executed_at": _iso(n.executed_at),
                "execution_status": n.execution_status,
                "execution_time": n.execution_time,
                "execution_message": n.execution_message,
                "adapter_response": n.adapter_response,
                "loader": n.loader,
                "freshness": {
                    "status": n.freshness_status,
                    "max_loaded_at": _iso(n.freshness_max_loaded_at),
                    "snapshotted_at": _iso(n.freshness_snapshotted_at),
                    "age_seconds": n.freshness_age_seconds,
                    "error": n.freshness_error,
                }
                if n.freshness_status
                else None,
                "provenance": provenance_json(node_provenance(n, jobs, runs)),
                "match": {"status": n.match_status, "rule": n.match_rule},
                "columns": n.columns,
                "missing_columns": n.missing_columns,
                "undocumented_columns": n.undocumented_columns,
            }
        )
    tests = list(DbtTest.objects.filter(table_id__in=table_ids, removed=False).order_by("name"))
    history = defaultdict(list)
    for h in DbtTestResult.objects.filter(
        test__table_id__in=table_ids, test__removed=False
    ).order_by(F("executed_at").asc(nulls_first=True), "id"):  # execution order, oldest first
        job, run = jobs.get(h.job_id), runs.get(h.run_id)
        history[h.test_id].append(
            {
                "status": h.status,
                "failures": h.failures,
                "message": h.message,
                "job": {"id": job.dbt_id, "name": job.name} if job else None,
                "run": {"id": run.dbt_id, "url": run.url} if run else None,
                "executed_at": _iso(h.executed_at),
            }
        )
    for t in tests:
        result[t.table_id]["tests"].append(
            {
                "unique_id": t.unique_id,
                "name": t.name,
                "test_type": t.test_type,
                "test_name": t.test_name,
                "column": t.column_name,
                "severity": t.severity,
                "status": t.status,
                "failures": t.failures,
                "message": t.message,
                "url": t.url,
                "tags": t.tags,
                "description": t.description,
                "compiled_code": t.compiled_code,
                "never_run": not t.status,
                "executed_at": _iso(t.executed_at),
                "provenance": provenance_json(test_provenance(t, jobs, runs)),
                "history": history[t.pk],
            }
        )
    for table_id, builds in builds_by_table(table_ids=table_ids).items():
        result[table_id]["jobs"] = [b.as_json() for b in builds]
    for model, key, shape in (
        (
            DbtExposure,
            "exposures",
            lambda e: {
                "unique_id": e.unique_id,
                "name": e.name,
                "label": e.label,
                "type": e.exposure_type,
                "url": e.url,
            },
        ),
        (
            DbtTerm,
            "terms",
            lambda t: {"unique_id": t.unique_id, "kind": t.kind, "name": t.name, "label": t.label},
        ),
    ):
        owners = {
            o.pk: o for o in model.objects.filter(tables__in=table_ids, removed=False).distinct()
        }
        through = model.tables.through.objects.filter(table_id__in=table_ids)
        for owner_id, table_id in through.values_list(f"{model._meta.model_name}_id", "table_id"):
            if owner_id in owners:
                result[table_id][key].append(shape(owners[owner_id]))
    for up, down in TableLineage.objects.filter(downstream_id__in=table_ids).values_list(
        "upstream_id", "downstream_id"
    ):
        result[down]["upstream"].append(table_paths.get(up))
    for up, down in TableLineage.objects.filter(upstream_id__in=table_ids).values_list(
        "upstream_id", "downstream_id"
    ):
        result[up]["downstream"].append(table_paths.get(down))
    return result


def _job_json(j: DbtJob, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": j.dbt_id,
        "name": j.name,
        "url": j.url,
        "state": j.state,
        "triggers": j.triggers,
        "project": j.project_name,
        "environment": j.environment_name,
        "deployment_type": j.deployment_type,
        "job_type": j.job_type,
        "schedule": j.schedule_cron,
        "generates_docs": j.generate_docs,
        "runs_freshness": j.run_generate_sources,
        "runs": runs,
    }


def dbt_integration_export(integration, table_paths: dict[int, str]) -> dict[str, Any]:
    runs = defaultdict(list)
    for r in DbtRun.objects.filter(integration=integration).order_by("-finished_at"):
        runs[r.job_id].append(
            {
                "id": r.dbt_id,
                "status": r.status,
                "status_code": r.status_code,
                "started_at": _iso(r.started_at),
                "finished_at": _iso(r.finished_at),
                "duration_seconds": r.duration_seconds,
                "url": r.url,
                "trigger": r.trigger_cause,
                "git_sha": r.git_sha,
                "ingested": r.ingested_at is not None,
            }
        )
    jobs = list(DbtJob.objects.filter(integration=integration))
    return {
        # Live jobs only; a removed job's runs stay under `removed_jobs`, since history names them.
        "jobs": [_job_json(j, runs[j.pk]) for j in jobs if not j.removed],
        "removed_jobs": [_job_json(j, runs[j.pk]) for j in jobs if j.removed],
        "match_report": [
            {
                "unique_id": n.unique_id,
                "resource_type": n.resource_type,
                "status": n.match_status,
                "rule": n.match_rule,
                "reason": n.match_reason,
                "nearest": n.match_candidate,
                "table": table_paths.get(n.table_id),
                "missing_columns": n.missing_columns,
                "undocumented_columns": n.undocumented_columns,
            }
            for n in DbtNode.objects.filter(integration=integration, removed=False).order_by(
                "unique_id"
            )
        ],
        "groups": [
            {
                "unique_id": g.unique_id,
                "name": g.name,
                "owner_name": g.owner_name,
                "owner_email": g.owner_email,
                "description": g.description,
                "models": sorted(n.unique_id for n in g.nodes.all()),
            }
            for g in DbtGroup.objects.filter(
                integration=integration, removed=False
            ).prefetch_related("nodes")
        ],
        "exposures": [
            {
                "unique_id": e.unique_id,
                "name": e.name,
                "label": e.label,
                "type": e.exposure_type,
                "description": e.description,
                "owner_name": e.owner_name,
                "owner_email": e.owner_email,
                "url": e.url,
                "maturity": e.maturity,
                "tags": e.tags,
                "tables": sorted(table_paths.get(t.pk, str(t.pk)) for t in e.tables.all()),
            }
            for e in DbtExposure.objects.filter(
                integration=integration, removed=False
            ).prefetch_related("tables")
        ],
        "terms": [
            {
                "unique_id": t.unique_id,
                "kind": t.kind,
                "name": t.name,
                "label": t.label,
                "type": t.term_type,
                "description": t.description,
                "dimensions": t.dimensions,
                "time_grains": t.time_grains,
                "measures": t.measures,
                "owner": t.owner,
                "tables": sorted(table_paths.get(x.pk, str(x.pk)) for x in t.tables.all()),
            }
            for t in DbtTerm.objects.filter(
                integration=integration, removed=False
            ).prefetch_related("tables")
        ],
    }
