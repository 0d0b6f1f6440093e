"""The Catalog tab: search, table pages, dbt's exposures, terms, groups, jobs and freshness."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from .forms import CatalogEditForm
from .models import Column, DbtExposure, DbtGroup, DbtNode, DbtTerm, Table
from .selectors.table_page import table_page
from .services import catalog_object_edit

MAX_LINEAGE_DEPTH = 5


@require_safe
def catalog_home(request: HttpRequest) -> HttpResponse:
    from .selectors.search import SearchFilters, catalog_search, parse_filters

    query = request.GET.get("q", "").strip()
    try:
        filters = parse_filters(request.GET)
        error = ""
    except ValueError as exc:
        filters, error = SearchFilters(), str(exc)
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    results = catalog_search(query=query, filters=filters, page=page_number)
    return render(
        request,
        "catalog/home.html",
        {
            "results": results,
            "query": query,
            "filters": filters,
            "error": error,
            "params": request.GET,
            "kinds": KIND_CHOICES,
        },
        status=400 if error else 200,
    )


KIND_CHOICES = [
    ("", "Everything"),
    ("table", "Tables"),
    ("view", "Views"),
    ("materialized_view", "Materialized views"),
    ("column", "Columns"),
    ("dbt_model", "dbt models"),
    ("test", "Tests"),
    ("exposure", "Exposures"),
    ("term", "Terms"),
]


@require_safe
def table_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        page = table_page(pk=pk)
    except Table.DoesNotExist:
        raise Http404("No such table") from None
    try:
        depth = min(MAX_LINEAGE_DEPTH, max(0, int(request.GET.get("depth", "2"))))
    except ValueError:
        depth = 2
    return render(
        request,
        "catalog/table.html",
        {
            "page": page,
            "table": page.table,
            "lineage_svg": _lineage_svg(page.table, depth),
            "depth": depth,
            "depths": range(0, MAX_LINEAGE_DEPTH + 1),
            "can_edit": request.user.has_perm("catalog.change_table"),
            "highlighted": {n.pk: _highlight(n.compiled_code or n.raw_code) for n in page.nodes},
        },
    )


def _lineage_svg(table: Table, depth: int) -> str:
    from .lineage_svg import render_lineage_svg
    from .selectors.lineage import table_lineage

    graph = table_lineage(table=table, depth=depth)
    if len(graph.nodes) <= 1:
        return ""

    def url_for(node) -> str | None:
        if node.kind == "table":
            return reverse("catalog:table", args=[node.id]) + f"?depth={depth}#lineage"
        return reverse("catalog:exposure", args=[node.id])

    return mark_safe(render_lineage_svg(graph, url_for=url_for))  # noqa: S308 - escaped by the renderer


def _highlight(code: str) -> str:
    if not code:
        return ""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    return mark_safe(highlight(code, SqlLexer(), HtmlFormatter(cssclass="highlight")))  # noqa: S308


def _edit(request: HttpRequest, obj, permission: str, back: str) -> HttpResponse:
    if not request.user.has_perm(permission):
        raise PermissionDenied("You may not edit the catalog.")
    form = CatalogEditForm.for_object(obj, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            catalog_object_edit(obj=obj, changes=form.cleaned_data, user=request.user)
            return redirect(back)
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(
        request,
        "catalog/edit.html",
        {"form": form, "obj": obj, "back": back},
        status=400 if form.errors else 200,
    )


def table_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    table = get_object_or_404(Table, pk=pk)
    return _edit(request, table, "catalog.change_table", reverse("catalog:table", args=[pk]))


def column_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    column = get_object_or_404(Column, pk=pk)
    back = reverse("catalog:table", args=[column.table_id]) + f"#column-{column.pk}"
    return _edit(request, column, "catalog.change_column", back)


@require_safe
def exposure_list(request: HttpRequest) -> HttpResponse:
    exposures = (
        DbtExposure.objects.filter(removed=False).prefetch_related("tables").order_by("name")
    )
    return render(request, "catalog/exposures.html", {"exposures": exposures})


@require_safe
def exposure_view(request: HttpRequest, pk: int) -> HttpResponse:
    exposure = get_object_or_404(DbtExposure.objects.prefetch_related("tables__schema"), pk=pk)
    return render(request, "catalog/exposure.html", {"exposure": exposure})


@require_safe
def term_list(request: HttpRequest) -> HttpResponse:
    terms = (
        DbtTerm.objects.filter(removed=False)
        .select_related("group")
        .prefetch_related("tables")
        .order_by("kind", "name")
    )
    return render(request, "catalog/terms.html", {"terms": terms})


@require_safe
def term_view(request: HttpRequest, pk: int) -> HttpResponse:
    term = get_object_or_404(
        DbtTerm.objects.select_related("group").prefetch_related("tables__schema"), pk=pk
    )
    return render(request, "catalog/term.html", {"term": term})


@require_safe
def group_list(request: HttpRequest) -> HttpResponse:
    groups = (
        DbtGroup.objects.filter(removed=False).prefetch_related("nodes__table").order_by("name")
    )
    return render(request, "catalog/groups.html", {"groups": groups})


@require_safe
def job_list(request: HttpRequest) -> HttpResponse:
    from .selectors.jobs import live_jobs

    return render(request, "catalog/jobs.html", {"jobs": live_jobs()})


@require_safe
def freshness_view(request: HttpRequest) -> HttpResponse:
    from .selectors.provenance import node_provenance

    sources = list(
        DbtNode.objects.filter(resource_type="source", removed=False)
        .select_related("table", "freshness_job", "freshness_run")
        .order_by("source_name", "name")
    )
    for source in sources:
        source.freshness_provenance = node_provenance(source, kinds=["freshness"])["freshness"]
    return render(request, "catalog/freshness.html", {"sources": sources})
