"""Reads for the Integrations tab: the gallery, the list and an integration's page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from .connectors import RegistryEntry, all_entries
from .connectors.base import CATEGORY_LABELS, WAREHOUSE
from .models import Integration, SyncRun


@dataclass(frozen=True)
class GalleryCard:
    entry: RegistryEntry
    key: str
    label: str
    category: str
    description: str
    logo: str
    search_text: str
    disabled_reason: str = ""
    needs_warehouse: bool = False
    matches: bool = True

    @property
    def enabled(self) -> bool:
        return not self.disabled_reason


@dataclass(frozen=True)
class GalleryGroup:
    category: str
    label: str
    cards: list[GalleryCard]

    @property
    def matches(self) -> bool:
        return any(card.matches for card in self.cards)


def _search_text(entry: RegistryEntry) -> str:
    c = entry.connector
    if c is None:
        return entry.key.replace("_", " ")
    parts = [
        c.label,
        c.key,
        c.key.replace("_", " "),
        *c.aliases,
        c.category,
        CATEGORY_LABELS.get(c.category, ""),
    ]
    return " ".join(parts).lower()


def gallery_matches(card: GalleryCard, query: str) -> bool:
    """Every word of the query starts a word of the card's names, aliases or category
    ("sf" finds Snowflake, not "tran-sf-ormation"). static/js/gallery.js applies the same
    rule as the user types."""
    tokens = card.search_text.split()
    return all(any(token.startswith(word) for token in tokens) for word in query.lower().split())


def gallery(*, query: str = "") -> list[GalleryGroup]:
    """Every connector as a card, grouped by category; cards that do not match the query
    are kept but marked, so that the page can filter again as the user types."""
    from .services import integration_requirements_missing

    groups: dict[str, list[GalleryCard]] = {}
    for entry in all_entries():
        c = entry.connector
        reason = entry.unavailable_reason
        needs_warehouse = False
        if c is not None and not reason:
            missing = integration_requirements_missing(c)
            if missing:
                needs_warehouse = WAREHOUSE in missing
                reason = (
                    f"{c.label} adds metadata to tables a warehouse has already catalogued. "
                    "Connect a warehouse or relational database first."
                )
        card = GalleryCard(
            entry=entry,
            key=entry.key,
            label=c.label if c else entry.key,
            category=c.category if c else "other",
            description=c.description if c else "",
            logo=c.logo if c else "",
            search_text=_search_text(entry),
            disabled_reason=reason,
            needs_warehouse=needs_warehouse,
        )
        if query and not gallery_matches(card, query):
            card = replace(card, matches=False)
        groups.setdefault(card.category, []).append(card)
    order = list(CATEGORY_LABELS)
    return [
        GalleryGroup(category=cat, label=CATEGORY_LABELS.get(cat, cat.title()), cards=cards)
        for cat, cards in sorted(
            groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
        )
    ]


def integration_list() -> list[Integration]:
    return list(
        Integration.objects.select_related("last_sync").annotate(
            active_runs=Count("runs", filter=Q(runs__status__in=SyncRun.ACTIVE))
        )
    )


def integration_active_run(integration: Integration) -> SyncRun | None:
    return integration.runs.filter(status__in=SyncRun.ACTIVE).first()


def integration_runs(integration: Integration, *, limit: int = 25) -> list[SyncRun]:
    return list(integration.runs.all()[:limit])


def integration_catalog_counts(integration: Integration) -> dict[str, int]:
    from catalog.models import Column, Schema, Table

    return {
        "schemas": Schema.objects.filter(integration=integration, removed=False).count(),
        "tables": Table.objects.filter(integration=integration, removed=False).count(),
        "columns": Column.objects.filter(integration=integration, removed=False).count(),
    }


def next_sync_at(integration: Integration) -> datetime | None:
    from .services.schedule import schedule_task

    task = schedule_task(integration)
    if task is None or not task.enabled:
        return None
    now = timezone.now()
    return now + task.schedule.remaining_estimate(task.last_run_at or now)


def dbt_overview(integration: Integration) -> dict:
    """Jobs with their newest runs, and the match report, for a dbt Cloud integration."""
    from catalog.models import DbtJob, DbtNode, DbtRun

    runs: dict[int, list] = {}
    for run in DbtRun.objects.filter(integration=integration).order_by("-finished_at")[:200]:
        runs.setdefault(run.job_id, []).append(run)
    jobs = list(DbtJob.objects.filter(integration=integration, removed=False))
    for job in jobs:
        job.recent_runs = runs.get(job.pk, [])[:5]
    report = list(
        DbtNode.objects.filter(integration=integration, removed=False)
        .select_related("table__schema__database")
        .order_by("match_status", "unique_id")
    )
    summary = {status: 0 for status in ("matched", "unmatched", "no_table")}
    for node in report:
        summary[node.match_status] = summary.get(node.match_status, 0) + 1
    return {"jobs": jobs, "report": report, "summary": summary}
