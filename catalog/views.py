"""The Catalog tab: browsing tables and their columns."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Table
from .selectors import table_browse, table_columns, table_detail


def catalog_home(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    page = Paginator(table_browse(query=query), 50).get_page(request.GET.get("page"))
    return render(request, "catalog/home.html", {"page": page, "query": query})


def table_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        table = table_detail(pk=pk)
    except Table.DoesNotExist:
        raise Http404("No such table") from None
    return render(
        request, "catalog/table.html", {"table": table, "columns": table_columns(table=table)}
    )
