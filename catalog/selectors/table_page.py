"""Everything the table page shows, in a fixed number of queries whatever the number of
columns, tests, runs or edits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F, Q

from ..models import (
    Column,
    DbtExposure,
    DbtNode,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    EditRecord,
    Table,
)
from .provenance import (
    NODE_RELATED,
    TEST_RELATED,
    Build,
    node_provenance,
    table_builds,
    test_provenance,
)

FAILING = ("fail", "error")
HISTORY_PER_TEST = 10  # the newest changes of outcome, newest first


@dataclass
class TablePage:
    table: Table
    columns: list[Column]
    nodes: list[DbtNode]
    tests: list[DbtTest]
    tests_by_column: dict[str, list[DbtTest]]
    jobs: list[Build]
    exposures: list[DbtExposure]
    terms: list[DbtTerm]
    edits: list[EditRecord]
    failing: int = 0
    warning: int = 0
    extra: dict = field(default_factory=dict)


def table_page(*, pk: int) -> TablePage:
    table = Table.objects.select_related("schema__database", "integration", "last_changed_run").get(
        pk=pk
    )
    columns = list(
        Column.objects.filter(table=table)
        .select_related("foreign_key__table")
        .order_by("removed", "ordinal", "name")
    )
    nodes = list(
        DbtNode.objects.filter(table=table, removed=False)
        .select_related("group", "integration", *NODE_RELATED)
        .order_by("resource_type", "unique_id")
    )
    for node in nodes:
        node.provenance = node_provenance(node)
    tests = list(
        DbtTest.objects.filter(table=table, removed=False)
        .select_related(*TEST_RELATED)
        .order_by("column_name", "name")
    )
    history = defaultdict(list)
    # Execution order, newest first; a row without a time (never expected) sorts last.
    for result in (
        DbtTestResult.objects.filter(test__table=table, test__removed=False)
        .select_related("job", "run")
        .order_by(F("executed_at").desc(nulls_last=True), "-id")
    ):
        if len(history[result.test_id]) < HISTORY_PER_TEST:
            history[result.test_id].append(result)
    tests_by_column = defaultdict(list)
    lowered = {c.name.lower(): c.name for c in columns}
    for test in tests:
        test.recent_history = history[test.pk]
        test.provenance = test_provenance(test)
        tests_by_column[lowered.get(test.column_name.lower(), test.column_name)].append(test)
    for column in columns:
        column.dbt_tests = tests_by_column.get(column.name, [])
    jobs = table_builds(table=table)
    edits = list(
        EditRecord.objects.filter(Q(table=table) | Q(column__table=table))
        .select_related("user", "column")
        .order_by("-edited_at", "-id")[:50]
    )
    return TablePage(
        table=table,
        columns=columns,
        nodes=nodes,
        tests=tests,
        tests_by_column=dict(tests_by_column),
        jobs=jobs,
        exposures=list(DbtExposure.objects.filter(tables=table, removed=False).order_by("name")),
        terms=list(DbtTerm.objects.filter(tables=table, removed=False).order_by("kind", "name")),
        edits=edits,
        failing=sum(1 for t in tests if t.status in FAILING),
        warning=sum(1 for t in tests if t.status == "warn"),
    )
