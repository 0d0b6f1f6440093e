"""The analysts' search: one box over tables and views, columns, dbt models, tests, exposures
and dictionary terms, with filters, ranking and pages.

What matches. A row matches when the query is in its name, its description, its tags or its
owners (a dbt exposure's or term's label too), ignoring case. Removed rows never match. Two ways
of finding those rows, chosen by `backend`:

- "postgres": names, tags and owners through pg_trgm's trigram indexes (ILIKE), descriptions
  through full-text search: `to_tsvector('simple', name || ' ' || description)` against the
  query's words, the last one a prefix ("cust" finds "customers"), and the description then
  checked to hold the query itself. So a description is found by a query that starts at one of
  its words, not by one that starts in the middle of a word ("ustomer"); names, tags and owners
  are found either way. The indexes come from migration 0005_search_indexes.
- "fallback" (SQLite, or when asked): `icontains` on each field, no index.

On the jaffle_shop catalog both return the same pages (tests/catalog/test_search.py runs every
assertion through both).

Ranking: the name equals the query, then starts with it, then contains it, then only the
description, tags or owners hold it. Ties go by kind (tables, columns, dbt models, tests,
exposures, terms), then by name, lower-cased then as written, then by id. An empty query with
filters lists by name; an empty query without filters finds nothing.

Cost. A search sends one statement per kind it looks at: six at most, fewer with a `kind`
filter, four with `failing_tests` (exposures and terms have no tests). Each statement returns
at most page x per_page rows (the most a kind can put on that page), each carrying its kind's
total through `COUNT(*) OVER ()`, so the number of statements does not grow with the catalog
or the hits. The work inside a statement does: the database ranks every row that matches
(a top-N sort), so a query that matches a large share of two million columns is as slow as
that share. Paging stops at MAX_DEPTH results: refine the query rather than page on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Collate, Lower

from ..models import Column, DbtExposure, DbtNode, DbtTerm, DbtTest, Table

TABLE_KINDS: tuple[str, ...] = tuple(Table.Kind.values)
KINDS: tuple[str, ...] = (*TABLE_KINDS, "column", "dbt_model", "test", "exposure", "term")
FAILING_STATUSES = ("fail", "error")
MAX_PER_PAGE = 100
MAX_DEPTH = 1000  # the deepest result a page may reach
MAX_QUERY_LENGTH = 200
Backend = Literal["auto", "postgres", "fallback"]
SCORES = {0: 1.0, 1: 0.75, 2: 0.5, 3: 0.25}  # by bucket; 0.0 when listing without a query


@dataclass(frozen=True)
class SearchFilters:
    integration_id: int | None = None
    database: str = ""
    schema: str = ""
    # "" or a Table.kind (table, view, materialized_view, ...), "column", "dbt_model", "test",
    # "exposure", "term".
    kind: str = ""
    tag: str = ""  # one of the hit's own tags, ignoring case
    owner: str = ""  # one of the hit's own owners (a test's: its model's), ignoring case
    # Tables with a dbt test whose status is fail or error, their columns and dbt models, and
    # those tests. Exposures and terms are left out.
    failing_tests: bool = False
    documented: bool | None = None  # True: description non-empty; False: empty

    @property
    def any(self) -> bool:
        return self != SearchFilters()


@dataclass(frozen=True)
class SearchHit:
    kind: str  # table | column | dbt_model | test | exposure | term
    id: int  # the row's pk in its model
    name: str
    path: str  # database.schema.table[.column]; a dbt object's unique_id
    description: str
    table_id: int | None  # the table to open: a column's, a node's or test's, an exposure's or
    # term's only table; None when there is none (or several)
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    score: float  # 1.0 exact name, 0.75 name prefix, 0.5 name contains, 0.25 other; 0.0 listing


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    query: str
    filters: SearchFilters


# --- Parsing GET parameters -----------------------------------------------------------------

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_filters(params: Mapping[str, str]) -> SearchFilters:
    """Filters from GET parameters: integration, database, schema, kind, tag, owner, failing,
    documented. Blank means no filter; other parameters (q, page) are ignored. A bad value
    raises ValueError with a message that can be shown as it is."""

    def text(name: str) -> str:
        return (params.get(name) or "").strip()

    integration_id = None
    if raw := text("integration"):
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"integration must be an integration's number, not {raw!r}.")
        integration_id = int(raw)
    kind = text("kind")
    if kind and kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    failing = _yes_no("failing", text("failing"))
    return SearchFilters(
        integration_id=integration_id,
        database=text("database"),
        schema=text("schema"),
        kind=kind,
        tag=text("tag"),
        owner=text("owner"),
        failing_tests=bool(failing),
        documented=_yes_no("documented", text("documented")),
    )


def _yes_no(name: str, raw: str) -> bool | None:
    if not raw:
        return None
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}.")


# --- SQL pieces for the PostgreSQL path -----------------------------------------------------
# The expressions below render exactly as the index expressions of 0005_search_indexes, which
# is what lets the planner use those indexes; test_search checks that it does.


class _ILike(Func):
    arg_joiner = " ILIKE "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _SpaceJoined(Func):
    """`a || ' ' || b`: both sides are NOT NULL columns, so no COALESCE (it would not match
    the index expression)."""

    arg_joiner = " || ' ' || "
    template = "(%(expressions)s)"
    output_field = TextField()


class _WordsMatch(Func):
    """to_tsvector('simple', document) @@ the query's words, the last one a prefix.
    plainto_tsquery reads the query as plain text (no operators) with the same parser as
    the document; NULLIF turns a query without words into no match instead of an error."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        document, query = self.get_source_expressions()
        document_sql, document_params = compiler.compile(document)
        query_sql, query_params = compiler.compile(query)
        sql = (
            f"to_tsvector('simple'::regconfig, {document_sql}) @@ "
            f"(NULLIF(plainto_tsquery('simple'::regconfig, {query_sql})::text, '') "
            "|| ':*')::tsquery"
        )
        return sql, (*document_params, *query_params)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _labels(prefix: str = "") -> _SpaceJoined:
    """Tags and owners of a Table or Column as one text, as indexed."""
    return _SpaceJoined(
        Cast(F(f"{prefix}tags"), TextField()), Cast(F(f"{prefix}owners"), TextField())
    )


def _json_item(value: str) -> str:
    """How one item of a JSON list reads inside the list's text: SQLite keeps Django's
    json.dumps (non-ASCII escaped), PostgreSQL prints jsonb with the characters as they are."""
    return json.dumps(value, ensure_ascii=connection.vendor != "postgresql")


# --- The kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Search:
    query: str
    filters: SearchFilters
    postgres: bool

    # The text match, per kind.
    def matches(self, *, labels: tuple[str, ...], indexed: bool = False) -> Q:
        """The name, the description or one of the `labels` fields contains the query. On
        PostgreSQL, `indexed` (Table, Column) reads the labels (tags and owners) through their
        one indexed expression."""
        q = self.query
        if not self.postgres:
            found = Q(name__icontains=q) | Q(description__icontains=q)
            for label in labels:
                found |= Q(**{f"{label}__icontains": q})
            return found
        pattern = Value(_like_pattern(q))
        found = Q(_ILike(F("name"), pattern))
        described = Q(_ILike(F("description"), pattern))
        if re.search(r"[^\W_]", q):
            # The index finds the words; the ILIKE above keeps the rows that hold the query.
            described &= Q(_WordsMatch(_SpaceJoined(F("name"), F("description")), Value(q)))
        found |= described
        if indexed:
            found |= Q(_ILike(_labels(), pattern))
        else:
            for label in labels:
                found |= Q(_ILike(Cast(F(label), TextField()), pattern))
        return found

    def has_item(self, field: str, value: str, *, indexed: bool = False) -> Q:
        """The JSON list `field` holds `value`, ignoring case."""
        needle = _json_item(value)
        if self.postgres and indexed:
            # The labels arm finds candidates through the trigram index; the second checks
            # the field itself.
            pattern = Value(_like_pattern(needle))
            return Q(_ILike(_labels(), pattern)) & Q(_ILike(Cast(F(field), TextField()), pattern))
        return Q(**{f"{field}__icontains": needle})

    def documented(self, qs: QuerySet) -> QuerySet:
        if self.filters.documented is None:
            return qs
        return qs.exclude(description="") if self.filters.documented else qs.filter(description="")

    def ranked(self, qs: QuerySet, match: Q, fields: tuple[str, ...], limit: int) -> list[dict]:
        q = self.query
        if q:
            qs = qs.filter(match)
            bucket = Case(
                When(name__iexact=q, then=Value(0)),
                When(name__istartswith=q, then=Value(1)),
                When(name__icontains=q, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            )
        else:
            bucket = Value(0, output_field=IntegerField())
        # Byte order (PostgreSQL's "C", SQLite's BINARY) is Python's order of str, so the merge
        # in Python agrees with each statement's ORDER BY ... LIMIT.
        collation = "C" if connection.vendor == "postgresql" else "BINARY"
        qs = qs.annotate(
            bucket=bucket, sort_name=Lower("name"), total=Window(expression=Count("*"))
        ).order_by("bucket", Collate(Lower("name"), collation), Collate(F("name"), collation), "id")
        return list(
            qs.values("id", "name", "description", "bucket", "sort_name", "total", *fields)[:limit]
        )

    # One statement per kind.
    def tables(self, limit: int) -> list[dict]:
        f = self.filters
        qs = Table.objects.filter(removed=False)
        if f.integration_id is not None:
            qs = qs.filter(integration_id=f.integration_id)
        if f.database:
            qs = qs.filter(schema__database__name=f.database)
        if f.schema:
            qs = qs.filter(schema__name=f.schema)
        if f.kind in TABLE_KINDS:
            qs = qs.filter(kind=f.kind)
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag, indexed=True))
        if f.owner:
            qs = qs.filter(self.has_item("owners", f.owner, indexed=True))
        if f.failing_tests:
            qs = qs.filter(Exists(_failing_tests().filter(table_id=OuterRef("pk"))))
        qs = self.documented(qs)
        match = self.matches(labels=("tags", "owners"), indexed=True)
        return self.ranked(
            qs, match, ("tags", "owners", "schema__name", "schema__database__name"), limit
        )

    def columns(self, limit: int) -> list[dict]:
        f = self.filters
        qs = Column.objects.filter(removed=False)
        if f.integration_id is not None:
            qs = qs.filter(integration_id=f.integration_id)
        if f.database:
            qs = qs.filter(table__schema__database__name=f.database)
        if f.schema:
            qs = qs.filter(table__schema__name=f.schema)
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag, indexed=True))
        if f.owner:
            qs = qs.filter(self.has_item("owners", f.owner, indexed=True))
        if f.failing_tests:
            qs = qs.filter(Exists(_failing_tests().filter(table_id=OuterRef("table_id"))))
        qs = self.documented(qs)
        match = self.matches(labels=("tags", "owners"), indexed=True)
        fields = (
            "tags",
            "owners",
            "table_id",
            "table__name",
            "table__schema__name",
            "table__schema__database__name",
        )
        return self.ranked(qs, match, fields, limit)

    def dbt_models(self, limit: int) -> list[dict]:
        f = self.filters
        qs = DbtNode.objects.filter(resource_type="model", removed=False)
        if f.integration_id is not None:
            qs = qs.filter(
                Q(integration_id=f.integration_id) | Q(table__integration_id=f.integration_id)
            )
        # A matched model lives where its table does; an unmatched one where dbt says.
        if f.database:
            qs = qs.filter(
                Q(table__schema__database__name=f.database)
                | Q(table__isnull=True, database=f.database)
            )
        if f.schema:
            qs = qs.filter(Q(table__schema__name=f.schema) | Q(table__isnull=True, schema=f.schema))
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag))
        if f.owner:
            qs = qs.filter(owner__iexact=f.owner)
        if f.failing_tests:
            failing = _failing_tests().filter(
                Q(node_id=OuterRef("pk")) | Q(table_id=OuterRef("table_id"))
            )
            qs = qs.filter(Exists(failing))
        qs = self.documented(qs)
        match = self.matches(labels=("tags", "owner"))
        return self.ranked(qs, match, ("unique_id", "tags", "owner", "table_id"), limit)

    def tests(self, limit: int) -> list[dict]:
        f = self.filters
        qs = DbtTest.objects.filter(removed=False)
        if f.integration_id is not None:
            qs = qs.filter(
                Q(integration_id=f.integration_id) | Q(table__integration_id=f.integration_id)
            )
        if f.database:
            qs = qs.filter(table__schema__database__name=f.database)
        if f.schema:
            qs = qs.filter(table__schema__name=f.schema)
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag))
        if f.owner:
            qs = qs.filter(node__owner__iexact=f.owner)
        if f.failing_tests:
            qs = qs.filter(status__in=FAILING_STATUSES)
        qs = self.documented(qs)
        # A test has no owner of its own: its model's is shown and filtered on, not searched.
        match = self.matches(labels=("tags",))
        return self.ranked(qs, match, ("unique_id", "tags", "node__owner", "table_id"), limit)

    def exposures(self, limit: int) -> list[dict]:
        return self._dbt_documents(DbtExposure, "dbtexposure", ("owner_name", "owner_email"), limit)

    def terms(self, limit: int) -> list[dict]:
        return self._dbt_documents(DbtTerm, "dbtterm", ("owner",), limit)

    def _dbt_documents(self, model, link: str, owner_fields: tuple[str, ...], limit: int):
        """Exposures and terms: they reach tables through a many-to-many link."""
        f = self.filters
        through = model.tables.through
        qs = model.objects.filter(removed=False)

        def uses_a_table(**where: Any) -> Exists:
            return Exists(through.objects.filter(**{link: OuterRef("pk")}, **where))

        if f.integration_id is not None:
            qs = qs.filter(
                Q(integration_id=f.integration_id)
                | uses_a_table(table__integration_id=f.integration_id)
            )
        if f.database or f.schema:
            where = {}
            if f.database:
                where["table__schema__database__name"] = f.database
            if f.schema:
                where["table__schema__name"] = f.schema
            qs = qs.filter(uses_a_table(**where))
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag))
        if f.owner:
            owned = Q()
            for field in owner_fields:
                owned |= Q(**{f"{field}__iexact": f.owner})
            qs = qs.filter(owned)
        qs = self.documented(qs)
        only_table = (
            through.objects.filter(**{link: OuterRef("pk")})
            .values(link)
            .annotate(n=Count("*"), table=Min("table_id"))
            .filter(n=1)
            .values("table")
        )
        qs = qs.annotate(only_table_id=Subquery(only_table))
        match = self.matches(labels=("tags", "label", *owner_fields))
        return self.ranked(qs, match, ("unique_id", "tags", "only_table_id", *owner_fields), limit)


def _failing_tests() -> QuerySet:
    return DbtTest.objects.filter(removed=False, status__in=FAILING_STATUSES)


# (hit kind, its place among ties, _Search method, SearchFilters.kind values that keep it)
KIND_ORDER: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("table", "tables", TABLE_KINDS),
    ("column", "columns", ("column",)),
    ("dbt_model", "dbt_models", ("dbt_model",)),
    ("test", "tests", ("test",)),
    ("exposure", "exposures", ("exposure",)),
    ("term", "terms", ("term",)),
)
WITH_TESTS = ("table", "column", "dbt_model", "test")


def _hit(kind: str, row: dict[str, Any], score: float) -> SearchHit:
    tags = tuple(str(t) for t in row["tags"] or ())
    if kind == "table":
        path = f"{row['schema__database__name']}.{row['schema__name']}.{row['name']}"
        table_id, owners = row["id"], row["owners"]
    elif kind == "column":
        path = ".".join(
            (
                row["table__schema__database__name"],
                row["table__schema__name"],
                row["table__name"],
                row["name"],
            )
        )
        table_id, owners = row["table_id"], row["owners"]
    elif kind == "dbt_model":
        path, table_id, owners = row["unique_id"], row["table_id"], [row["owner"]]
    elif kind == "test":
        path, table_id, owners = row["unique_id"], row["table_id"], [row["node__owner"]]
    elif kind == "exposure":
        path, table_id = row["unique_id"], row["only_table_id"]
        owners = [row["owner_name"], row["owner_email"]]
    else:
        path, table_id, owners = row["unique_id"], row["only_table_id"], [row["owner"]]
    return SearchHit(
        kind=kind,
        id=row["id"],
        name=row["name"],
        path=path,
        description=row["description"],
        table_id=table_id,
        tags=tags,
        owners=tuple(dict.fromkeys(str(o) for o in owners or () if o)),
        score=score,
    )


def catalog_search(
    *,
    query: str,
    filters: SearchFilters = SearchFilters(),  # noqa: B008 (frozen, never changed)
    page: int = 1,
    per_page: int = 25,
    backend: Backend = "auto",
) -> SearchPage:
    """One page of hits for `query` under `filters`, best first. `backend` picks how rows are
    matched (see the module's docstring); "auto" is "postgres" on PostgreSQL."""
    if backend == "auto":
        backend = "postgres" if connection.vendor == "postgresql" else "fallback"
    elif backend not in ("postgres", "fallback"):
        raise ValueError(f"Unknown search backend {backend!r}.")
    if backend == "postgres" and connection.vendor != "postgresql":
        raise ValueError("The postgres search backend needs PostgreSQL.")
    query = " ".join(query.replace("\x00", "").split())[:MAX_QUERY_LENGTH]
    per_page = min(max(int(per_page), 1), MAX_PER_PAGE)
    page = min(max(int(page), 1), max(MAX_DEPTH // per_page, 1))
    if not query and not filters.any:
        return SearchPage([], 0, page, per_page, query, filters)

    search = _Search(query=query, filters=filters, postgres=backend == "postgres")
    limit = page * per_page  # no kind can place more than this on pages 1..page
    ranked: list[tuple] = []
    total = 0
    for rank, (kind, method, kept_by) in enumerate(KIND_ORDER):
        if filters.kind and filters.kind not in kept_by:
            continue
        if filters.failing_tests and kind not in WITH_TESTS:
            continue
        rows = getattr(search, method)(limit)
        total += rows[0]["total"] if rows else 0
        ranked += [(r["bucket"], rank, r["sort_name"], r["name"], r["id"], kind, r) for r in rows]
    ranked.sort(key=lambda item: item[:5])
    start = (page - 1) * per_page
    hits = [
        _hit(kind, row, SCORES[bucket] if query else 0.0)
        for bucket, _rank, _sort, _name, _id, kind, row in ranked[start : start + per_page]
    ]
    return SearchPage(hits, total, page, per_page, query, filters)
