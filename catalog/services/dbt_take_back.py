"""Taking dbt's enrichment back off catalog rows.

dbt writes descriptions, tags and owners onto the tables it matched and their columns
(`dbt._enrich`). When the node's match moves to another table, the node leaves the project
or the dbt integration is disconnected, what dbt wrote must go: every value whose source is
dbt returns to the warehouse's own comment and tags (kept by every warehouse sync in
`warehouse_description` / `warehouse_tags`), or to empty; dbt's owners return to none. What a
person wrote (source "user") and what the warehouse wrote stay.

Each model is written with one UPDATE whatever the number of rows: the choice per field is a
CASE on its source, evaluated by the database.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from django.db import models, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from ..models import Column, DbtNode, DescriptionSource, Table

logger = logging.getLogger(__name__)

DBT = DescriptionSource.DBT
NONE = DescriptionSource.NONE
WAREHOUSE = DescriptionSource.WAREHOUSE


def _ids(values: Iterable[int] | QuerySet) -> list[int] | QuerySet:
    # A queryset (`values("table_id")`) stays a subquery; anything else is read once.
    return values if isinstance(values, QuerySet) else list(values)


def _any(ids: list[int] | QuerySet) -> bool:
    """Whether ids may name a row, without running a subquery to find out."""
    return isinstance(ids, QuerySet) or bool(ids)


def _taken_back(field: str, kept: str, empty: str | list) -> dict[str, Case]:
    """The assignments of `field` and `field_source`: where dbt is the source, the kept
    warehouse value (or `empty` with no source when the warehouse has none)."""
    source = f"{field}_source"
    from_dbt = Q(**{source: DBT})
    return {
        field: Case(When(from_dbt, then=F(kept)), default=F(field)),
        source: Case(
            When(from_dbt & Q(**{kept: empty}), then=Value(NONE)),
            When(from_dbt, then=Value(WAREHOUSE)),
            default=F(source),
        ),
    }


def _assignments() -> dict[str, models.Expression]:
    from_dbt = Q(owners_source=DBT)
    return {
        **_taken_back("description", "warehouse_description", ""),
        **_taken_back("tags", "warehouse_tags", []),
        # The warehouse's owner is a role (`warehouse_owner`), not one of `owners`.
        "owners": Case(
            When(from_dbt, then=Value([], output_field=models.JSONField())),
            default=F("owners"),
        ),
        "owners_source": Case(When(from_dbt, then=Value(NONE)), default=F("owners_source")),
        "updated_at": Value(timezone.now()),
    }


ANY_FROM_DBT = Q(description_source=DBT) | Q(tags_source=DBT) | Q(owners_source=DBT)


@transaction.atomic
def take_back(
    *,
    table_ids: Iterable[int] | QuerySet,
    column_ids: Iterable[int] | QuerySet = (),
    keep_tables: Collection[int] | QuerySet = frozenset(),
) -> dict[str, int]:
    """Take dbt's values back off the tables `table_ids` and all their columns, and off the
    columns `column_ids` (of other tables), except on the tables `keep_tables` and their
    columns. Ids may be given as a `values("…")` queryset, which stays a subquery.

    Two UPDATE statements whatever the number of rows; only rows holding a value from dbt
    are written. Returns how many tables and columns changed.
    """
    tables = _ids(table_ids)
    columns = _ids(column_ids)
    keep = _ids(keep_tables)
    assignments = _assignments()
    table_rows = Table.objects.filter(pk__in=tables).filter(ANY_FROM_DBT)
    column_rows = Column.objects.filter(Q(table_id__in=tables) | Q(pk__in=columns)).filter(
        ANY_FROM_DBT
    )
    if _any(keep):
        table_rows = table_rows.exclude(pk__in=keep)
        column_rows = column_rows.exclude(table_id__in=keep)
    counts = {"tables": 0, "columns": 0}
    if _any(tables):
        counts["tables"] = table_rows.update(**assignments)
    if _any(tables) or _any(columns):
        counts["columns"] = column_rows.update(**assignments)
    return counts


@transaction.atomic
def take_back_integration(*, integration) -> dict[str, int]:
    """Take back everything a dbt integration enriched: the tables its nodes matched and
    their columns, except tables a live node of another integration matches too (that
    integration's next sync rewrites its own values there). Call it before the integration's
    nodes are deleted, in the same transaction."""
    own = DbtNode.objects.filter(integration=integration, table_id__isnull=False)
    others = DbtNode.objects.filter(table_id__isnull=False, removed=False).exclude(
        integration=integration
    )
    counts = take_back(table_ids=own.values("table_id"), keep_tables=others.values("table_id"))
    logger.info(
        "dbt enrichment of integration %s taken back: %s tables, %s columns",
        integration.pk,
        counts["tables"],
        counts["columns"],
    )
    return counts
