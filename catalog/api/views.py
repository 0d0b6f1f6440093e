"""Read API endpoints. Bad input is a 400 with a message; unknown objects a 404."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from ..models import Table
from ..selectors.provenance import node_identity, provenance_json
from ..selectors.table_page import table_page
from .auth import api_error, api_view
from .openapi import openapi_document

MAX_PER_PAGE = 100
MAX_DEPTH = 5


def _int(params, name: str, default: int, *, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"'{name}' must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise ValueError(f"'{name}' must be between {low} and {high}.")
    return value


def _iso(value):
    return value.isoformat() if value else None


@api_view
def search(request: HttpRequest) -> JsonResponse:
    from ..selectors.search import catalog_search, parse_filters

    params = request.GET
    page = _int(params, "page", 1, low=1, high=10_000)
    per_page = _int(params, "per_page", 25, low=1, high=MAX_PER_PAGE)
    results = catalog_search(
        query=params.get("q", "").strip(),
        filters=parse_filters(params),
        page=page,
        per_page=per_page,
    )
    return JsonResponse(
        {
            "query": results.query,
            "page": results.page,
            "per_page": results.per_page,
            "total": results.total,
            "results": [
                {
                    "kind": h.kind,
                    "id": h.id,
                    "name": h.name,
                    "path": h.path,
                    "description": h.description,
                    "table_id": h.table_id,
                    "tags": list(h.tags),
                    "owners": list(h.owners),
                    "url": f"/api/v1/tables/{h.table_id}/" if h.table_id else None,
                }
                for h in results.hits
            ],
        }
    )


def _table_or_404(pk: int):
    try:
        return table_page(pk=pk)
    except Table.DoesNotExist:
        return None


def _table_json(page) -> dict:
    t = page.table
    return {
        "id": t.pk,
        "name": t.name,
        "path": f"{t.schema.database.name}.{t.schema.name}.{t.name}",
        "integration": t.integration.name,
        "database": t.schema.database.name,
        "schema": t.schema.name,
        "kind": t.kind,
        "description": t.description,
        "description_source": t.description_source,
        "tags": t.tags,
        "owners": t.owners,
        "row_estimate": t.row_estimate,
        "removed": t.removed,
        "last_altered": _iso(t.last_altered),
        "updated_at": _iso(t.updated_at),
        "failing_tests": page.failing,
        "dbt": [_node_json(n) for n in page.nodes],
        "jobs": [b.as_json() for b in page.jobs],
        "links": {
            "columns": f"/api/v1/tables/{t.pk}/columns/",
            "tests": f"/api/v1/tables/{t.pk}/tests/",
            "lineage": f"/api/v1/tables/{t.pk}/lineage/",
        },
    }


def _node_json(n) -> dict:
    return {
        **node_identity(n),
        "group": n.group.name if n.group else None,
        "contract_enforced": n.contract_enforced,
        "owner": n.owner,
        "compiled_code": n.compiled_code,
        "executed_at": _iso(n.executed_at),
        "execution": {
            "status": n.execution_status,
            "executed_at": _iso(n.executed_at),
            "execution_time": n.execution_time,
            "message": n.execution_message,
            "adapter_response": n.adapter_response,
        }
        if n.provenance["execution"]
        else None,
        "freshness": n.freshness_status or None,
        "freshness_check": {
            "status": n.freshness_status,
            "max_loaded_at": _iso(n.freshness_max_loaded_at),
            "snapshotted_at": _iso(n.freshness_snapshotted_at),
            "age_seconds": n.freshness_age_seconds,
            "criteria": n.freshness_criteria,
            "error": n.freshness_error,
        }
        if n.freshness_status
        else None,
        "match_rule": n.match_rule,
        "provenance": provenance_json(n.provenance),
    }


def _history_json(h) -> dict:
    return {
        "status": h.status,
        "failures": h.failures,
        "message": h.message,
        "executed_at": _iso(h.executed_at),
        "job": {"id": h.job.dbt_id, "name": h.job.name} if h.job else None,
        "run": {"id": h.run.dbt_id, "url": h.run.url} if h.run else None,
    }


@api_view
def table(request: HttpRequest, pk: int) -> JsonResponse:
    page = _table_or_404(pk)
    return JsonResponse(_table_json(page)) if page else api_error(404, f"No table {pk}.")


@api_view
def table_by_path(request: HttpRequest) -> JsonResponse:
    path = request.GET.get("path", "").strip()
    parts = path.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            "'path' must be database.schema.table, e.g. warehouse.analytics.customers."
        )
    found = Table.objects.filter(
        schema__database__name=parts[0], schema__name=parts[1], name=parts[2]
    ).order_by("removed", "pk")
    pks = list(found.values_list("pk", flat=True)[:2])
    if not pks:
        return api_error(404, f"No table {path}.")
    return JsonResponse(_table_json(table_page(pk=pks[0])))


@api_view
def table_columns(request: HttpRequest, pk: int) -> JsonResponse:
    page = _table_or_404(pk)
    if page is None:
        return api_error(404, f"No table {pk}.")
    return JsonResponse(
        {
            "table": pk,
            "columns": [
                {
                    "id": c.pk,
                    "name": c.name,
                    "ordinal": c.ordinal,
                    "data_type": c.data_type,
                    "nullable": c.nullable,
                    "primary_key": c.is_primary_key,
                    "description": c.description,
                    "description_source": c.description_source,
                    "tags": c.tags,
                    "removed": c.removed,
                    "foreign_key": {"table": c.foreign_key.table_id, "column": c.foreign_key.name}
                    if c.foreign_key
                    else None,
                    "tests": [
                        {"name": t.name, "status": t.status, "never_run": not t.status}
                        for t in c.dbt_tests
                    ],
                }
                for c in page.columns
            ],
        }
    )


@api_view
def table_tests(request: HttpRequest, pk: int) -> JsonResponse:
    page = _table_or_404(pk)
    if page is None:
        return api_error(404, f"No table {pk}.")
    return JsonResponse(
        {
            "table": pk,
            "tests": [
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
                    "never_run": not t.status,
                    "executed_at": _iso(t.executed_at),
                    "provenance": provenance_json(t.provenance),
                    "history": [_history_json(h) for h in t.recent_history],
                }
                for t in page.tests
            ],
        }
    )


@api_view
def table_lineage(request: HttpRequest, pk: int) -> JsonResponse:
    from ..selectors.lineage import table_lineage as lineage

    depth = _int(request.GET, "depth", 2, low=0, high=MAX_DEPTH)
    table = Table.objects.filter(pk=pk).first()
    if table is None:
        return api_error(404, f"No table {pk}.")
    graph = lineage(table=table, depth=depth)
    return JsonResponse(
        {
            "table": pk,
            "depth": depth,
            "truncated": graph.truncated,
            "nodes": [
                {
                    "key": n.key,
                    "kind": n.kind,
                    "id": n.id,
                    "label": n.label,
                    "sublabel": n.sublabel,
                    "level": n.level,
                    "removed": n.removed,
                    "status": n.status,
                }
                for n in graph.nodes
            ],
            "edges": [{"from": up, "to": down} for up, down in graph.edges],
        }
    )


@api_view
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document())
