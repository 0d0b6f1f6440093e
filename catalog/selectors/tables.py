"""Reads for browsing tables."""

from __future__ import annotations

from django.db.models import Q

from ..models import Column, Table


def table_browse(*, query: str = "", include_removed: bool = False):
    """Tables for the browse page: by name or description, current ones first."""
    tables = Table.objects.select_related("schema__database", "integration")
    if not include_removed:
        tables = tables.filter(removed=False)
    if query:
        tables = tables.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return tables.order_by("schema__database__name", "schema__name", "name")


def table_detail(*, pk: int) -> Table:
    return Table.objects.select_related("schema__database", "integration").get(pk=pk)


def table_columns(*, table: Table) -> list[Column]:
    return list(table.columns.select_related("foreign_key__table").order_by("ordinal", "name"))
