"""The analysts' search: one box over tables and views, columns, dbt models, tests, exposures
and dictionary terms, with filters, ranking and pages.

What matches. A row matches when the query is in its name, its description, its tags or its
owners (an exposure's or term's label too), ignoring case. Removed rows never match. Two ways
of finding those rows, chosen by `backend`:

- "postgres": names, tags and owners through pg_trgm's trigram indexes (ILIKE); descriptions
  through full-text search, `to_tsvector('simple', left(description, INDEXED_PREFIX))` against
  the query's words, the last one a prefix ("cust" finds "customers"), then checked to hold the
  query itself. So a description is found by a query that starts at one of its words, not by
  one that starts inside a word ("ustomer" finds no description; names, tags and owners are
  found either way), and only by words in its first INDEXED_PREFIX characters. The indexes
  come from migrations 0005_search_indexes and 0008_search_fts_prefix.
- "fallback" (SQLite, or when asked): `icontains` on each field, no index.

On the jaffle_shop catalog both return the same pages: tests/catalog/test_search.py runs its
assertions through both.

Ranking: the name equals the query, then starts with it, then contains it, then only the
description, tags or owners hold it. Ties go by kind (tables, columns, dbt models, tests,
exposures, terms), then by name, lower-cased then as written, then by id. An empty query with
filters lists by name; an empty query without filters finds nothing.

Cost. A search sends one statement per kind it looks at: six at most, fewer with a `kind`
filter, four with `failing_tests` (exposures and terms have no tests). A statement returns at
most page x per_page rows, the most one kind can put on pages 1..page, with the kind's total;
so the number of statements is the same whatever the size of the catalog and the number of
hits. Inside a statement the work is bounded too: a kind's matches are counted up to COUNT_CAP
(past it the total is a lower bound, `total_capped`), and on PostgreSQL only the first
COUNT_CAP + 1 matches found are ranked, besides the names that start with the query, which are
read in order from their index and so always complete. Paging stops at MAX_DEPTH results: a
page past it is empty, with its total.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Collate, Lower

from ..models import Column, DbtExposure, DbtNode, DbtTerm, DbtTest, Table

TABLE_KINDS: tuple[str, ...] = tuple(Table.Kind.values)
KINDS: tuple[str, ...] = (*TABLE_KINDS, "column", "dbt_model", "test", "exposure", "term")
FAILING_STATUSES = ("fail", "error")
MAX_PER_PAGE = 100
MAX_DEPTH = 1000  # results past it are not served: refine the query rather than page on
COUNT_CAP = 1000  # per kind: past it, a total says "at least"
MAX_QUERY_LENGTH = 200
# The characters of a description the full-text index reads. A tsvector holds at most 1 MB of
# distinct words: this many characters of four bytes at most (after lower-casing) stay under
# half of it, so no description can make a write fail. Migration 0008 has the same number.
INDEXED_PREFIX = 100_000
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
    # True when a kind matched more than COUNT_CAP rows: `total` then counts COUNT_CAP for it
    # and is a lower bound ("1,000+").
    total_capped: bool = False


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
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
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


# --- SQL pieces ---------------------------------------------------------------------------
# The PostgreSQL expressions render exactly as the index expressions of 0005_search_indexes,
# which is what lets the planner use those indexes; test_search checks that it does.


class _ILike(Func):
    arg_joiner = " ILIKE "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _Like(Func):
    """LIKE with the backslash as escape character, which SQLite does not have by default."""

    arg_joiner = " LIKE "
    template = "(%(expressions)s ESCAPE '\\')"
    output_field = BooleanField()


class _Equal(Func):
    arg_joiner = " = "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _SpaceJoined(Func):
    """`a || ' ' || b ...`: the fields are NOT NULL, so no COALESCE (it would not match the
    index expression)."""

    arg_joiner = " || ' ' || "
    template = "(%(expressions)s)"
    output_field = TextField()


class _WordsMatch(Func):
    """to_tsvector('simple', left(document, INDEXED_PREFIX)) @@ all the query's words, the
    last one a prefix.
    plainto_tsquery reads the query as plain text (no operators) with the same parser as the
    document; NULLIF turns a query without words into no match instead of an error. Not a
    phrase (<->): the index cannot check word positions, so every row it finds would go through
    to_tsvector again; the ILIKE beside this checks the words' order for much less."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        document, query = self.get_source_expressions()
        document_sql, document_params = compiler.compile(document)
        query_sql, query_params = compiler.compile(query)
        sql = (
            f"to_tsvector('simple'::regconfig, left({document_sql}, {int(INDEXED_PREFIX)})) @@ "
            f"(NULLIF(plainto_tsquery('simple'::regconfig, {query_sql})::text, '') "
            "|| ':*')::tsquery"
        )
        return sql, (*document_params, *query_params)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_item(value: str) -> str:
    """How one item of a JSON list reads inside the list's text: SQLite keeps Django's
    json.dumps (non-ASCII escaped), PostgreSQL prints jsonb with the characters as they are."""
    return json.dumps(value, ensure_ascii=connection.vendor != "postgresql")


def _sql(qs: QuerySet) -> tuple[str, tuple]:
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


# --- The kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """What one kind searches: the filtered rows, the fields besides name and description the
    query may match (`labels`; on PostgreSQL read as one text, as indexed), and what a hit
    needs."""

    key: str
    base: QuerySet
    labels: tuple[str, ...]
    fields: tuple[str, ...]
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Search:
    query: str
    filters: SearchFilters
    postgres: bool
    collation: str  # byte order: PostgreSQL's "C", SQLite's BINARY, which is Python's str order

    # -- Conditions

    def labels(self, labels: tuple[str, ...]) -> Func:
        return _SpaceJoined(*(Cast(F(label), TextField()) for label in labels))

    def has_item(self, field_name: str, value: str, labels: tuple[str, ...]) -> Q:
        """The JSON list `field_name` holds `value`, ignoring case."""
        needle = _json_item(value)
        if self.postgres:
            # The labels arm can use the trigram index; the second checks the field itself.
            pattern = Value(f"%{_escaped(needle)}%")
            return Q(_ILike(self.labels(labels), pattern)) & Q(
                _ILike(Cast(F(field_name), TextField()), pattern)
            )
        return Q(**{f"{field_name}__icontains": needle})

    def name_is(self) -> Q:
        return Q(_Equal(Lower("name"), Lower(Value(self.query))))

    def name_starts(self) -> Q:
        # On the sort expression, so that PostgreSQL reads the prefix as a range of that index.
        return Q(
            _Like(Collate(Lower("name"), self.collation), Lower(Value(f"{_escaped(self.query)}%")))
        )

    def name_contains(self) -> Q:
        if self.postgres:  # the trigram index
            return Q(_ILike(F("name"), Value(f"%{_escaped(self.query)}%")))
        return Q(_Like(Lower("name"), Lower(Value(f"%{_escaped(self.query)}%"))))

    def elsewhere(self, labels: tuple[str, ...]) -> Q:
        """The description or a label contains the query."""
        q = self.query
        if not self.postgres:
            found = Q(description__icontains=q)
            for label in labels:
                found |= Q(**{f"{label}__icontains": q})
            return found
        pattern = Value(f"%{_escaped(q)}%")
        described = Q(_ILike(F("description"), pattern))
        if re.search(r"[^\W_]", q):
            # The index finds the words; the ILIKE keeps the rows that hold the query itself.
            described &= Q(_WordsMatch(F("description"), Value(q)))
        return described | Q(_ILike(self.labels(labels), pattern))

    def documented(self, qs: QuerySet) -> QuerySet:
        if self.filters.documented is None:
            return qs
        return qs.exclude(description="") if self.filters.documented else qs.filter(description="")

    # -- Ranking

    def ranked(self, kind: _Kind, limit: int) -> list[dict]:
        """The kind's first `limit` hits in rank order, each with the kind's total (counted up
        to COUNT_CAP + 1). One statement."""
        base = kind.base
        order = (Collate(Lower("name"), self.collation), Collate(F("name"), self.collation), "id")
        fields = ("id", "name", "description", "bucket", "sort_name", "total", *kind.fields)
        if not self.query:  # a list by name: the sort index read in order, or the filters' own
            matched = base.annotate(bucket=Value(0, output_field=IntegerField()))
        else:
            matched = base.filter(self.name_contains() | self.elsewhere(kind.labels))
            if self.postgres:
                return self._indexed(kind, matched, order, fields, limit)
            matched = matched.annotate(bucket=self.bucket())
        # Counting stops past COUNT_CAP: counting all of a broad query's matches would cost
        # as much as reading them.
        capped_sql, capped_params = _sql(matched.order_by().values("pk")[: COUNT_CAP + 1])
        total = RawSQL(f"SELECT COUNT(*) FROM ({capped_sql}) AS capped", capped_params)
        qs = matched.annotate(sort_name=Lower("name"), total=total, **kind.annotations)
        return list(qs.order_by("bucket", *order).values(*fields)[:limit])

    def bucket(self) -> Case:
        return Case(
            When(self.name_is(), then=Value(0)),
            When(self.name_starts(), then=Value(1)),
            When(self.name_contains(), then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )

    def _indexed(self, kind: _Kind, matched, order, fields, limit: int) -> list[dict]:
        """PostgreSQL: the rows that match, found through the indexes (a bitmap over the name
        trigrams, the description's words and the labels' trigrams) and cut at COUNT_CAP + 1,
        give the count and every rank below "starts with"; the names that start with the query
        come from the sort index, read in order from the prefix, so that they are complete even
        when the cut left some out. The outer query ranks those few ids and reads their
        details. A kind that matches more than COUNT_CAP rows (total_capped) so ranks its
        "contains" and "elsewhere" hits among the first COUNT_CAP + 1 matches found."""
        q = self.query
        candidates_sql, candidates_params = _sql(
            matched.order_by().values("id", "name")[: COUNT_CAP + 1]
        )
        prefix_sql, prefix_params = _sql(
            kind.base.filter(self.name_starts()).order_by(*order).values("pk")[:limit]
        )
        escaped = _escaped(q)
        ids = RawSQL(
            f"({prefix_sql}) UNION ALL (SELECT id FROM candidates ORDER BY CASE"
            " WHEN lower(name) = lower(%s) THEN 0"
            ' WHEN lower(name) COLLATE "C" LIKE lower(%s) THEN 1'
            " WHEN name ILIKE %s THEN 2 ELSE 3 END,"
            f' lower(name) COLLATE "C", name COLLATE "C", id LIMIT {int(limit)})',
            (*prefix_params, q, f"{escaped}%", f"%{escaped}%"),
        )
        qs = (
            kind.base.model.objects.filter(pk__in=ids)
            .annotate(
                bucket=self.bucket(),
                sort_name=Lower("name"),
                total=RawSQL("SELECT COUNT(*) FROM candidates", ()),
                **kind.annotations,
            )
            .order_by("bucket", *order)
            .values(*fields)[:limit]
        )
        sql, params = _sql(qs)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH candidates AS MATERIALIZED ({candidates_sql}) {sql}",
                (*candidates_params, *params),
            )
            columns = [c.name for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:  # a raw cursor leaves JSON as text
            for name in ("tags", "owners"):
                if isinstance(row.get(name), str):
                    row[name] = json.loads(row[name])
        return rows

    # -- One statement per kind

    def tables(self) -> _Kind:
        f, labels = self.filters, ("tags", "owners")
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
            qs = qs.filter(self.has_item("tags", f.tag, labels))
        if f.owner:
            qs = qs.filter(self.has_item("owners", f.owner, labels))
        if f.failing_tests:
            qs = qs.filter(Exists(_failing_tests().filter(table_id=OuterRef("pk"))))
        fields = ("tags", "owners", "schema__name", "schema__database__name")
        return _Kind("table", self.documented(qs), labels, fields)

    def columns(self) -> _Kind:
        f, labels = self.filters, ("tags", "owners")
        qs = Column.objects.filter(removed=False)
        if f.integration_id is not None:
            qs = qs.filter(integration_id=f.integration_id)
        if f.database:
            qs = qs.filter(table__schema__database__name=f.database)
        if f.schema:
            qs = qs.filter(table__schema__name=f.schema)
        if f.tag:
            qs = qs.filter(self.has_item("tags", f.tag, labels))
        if f.owner:
            qs = qs.filter(self.has_item("owners", f.owner, labels))
        if f.failing_tests:
            qs = qs.filter(Exists(_failing_tests().filter(table_id=OuterRef("table_id"))))
        fields = (
            "tags",
            "owners",
            "table_id",
            "table__name",
            "table__schema__name",
            "table__schema__database__name",
        )
        return _Kind("column", self.documented(qs), labels, fields)

    def dbt_models(self) -> _Kind:
        f, labels = self.filters, ("tags", "owner")
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
            qs = qs.filter(self.has_item("tags", f.tag, labels))
        if f.owner:
            qs = qs.filter(owner__iexact=f.owner)
        if f.failing_tests:
            failing = _failing_tests().filter(
                Q(node_id=OuterRef("pk")) | Q(table_id=OuterRef("table_id"))
            )
            qs = qs.filter(Exists(failing))
        fields = ("unique_id", "tags", "owner", "table_id")
        return _Kind("dbt_model", self.documented(qs), labels, fields)

    def tests(self) -> _Kind:
        # A test has no owner of its own: its model's is shown and filtered on, not searched.
        f, labels = self.filters, ("tags",)
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
            qs = qs.filter(self.has_item("tags", f.tag, labels))
        if f.owner:
            qs = qs.filter(node__owner__iexact=f.owner)
        if f.failing_tests:
            qs = qs.filter(status__in=FAILING_STATUSES)
        fields = ("unique_id", "tags", "node__owner", "table_id")
        return _Kind("test", self.documented(qs), labels, fields)

    def exposures(self) -> _Kind:
        return self._uses_tables(
            "exposure", DbtExposure, "dbtexposure", ("owner_name", "owner_email")
        )

    def terms(self) -> _Kind:
        return self._uses_tables("term", DbtTerm, "dbtterm", ("owner",))

    def _uses_tables(self, key: str, model, link: str, owner_fields: tuple[str, ...]) -> _Kind:
        """Exposures and terms: they reach tables through a many-to-many link."""
        f, labels = self.filters, ("tags", "label", *owner_fields)
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
            qs = qs.filter(self.has_item("tags", f.tag, labels))
        if f.owner:
            owned = Q()
            for owner_field in owner_fields:
                owned |= Q(**{f"{owner_field}__iexact": f.owner})
            qs = qs.filter(owned)
        only_table = (
            through.objects.filter(**{link: OuterRef("pk")})
            .values(link)
            .annotate(n=Count("*"), table=Min("table_id"))
            .filter(n=1)
            .values("table")
        )
        fields = ("unique_id", "tags", "only_table_id", *owner_fields)
        return _Kind(
            key, self.documented(qs), labels, fields, {"only_table_id": Subquery(only_table)}
        )


def _failing_tests() -> QuerySet:
    return DbtTest.objects.filter(removed=False, status__in=FAILING_STATUSES)


# (hit kind, the _Search method, the SearchFilters.kind values that keep it), in tie order.
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
    page = max(int(page), 1)
    if not query and not filters.any:
        return SearchPage([], 0, page, per_page, query, filters)

    search = _Search(
        query=query,
        filters=filters,
        postgres=backend == "postgres",
        collation="C" if connection.vendor == "postgresql" else "BINARY",
    )
    # No kind can place more than page x per_page hits on pages 1..page. Past MAX_DEPTH a page
    # is empty, but still counts: a client that pages on sees the end instead of a repeat.
    limit = min(page * per_page, MAX_DEPTH)
    ranked: list[tuple] = []
    total, capped = 0, False
    for rank, (kind, method, kept_by) in enumerate(KIND_ORDER):
        if filters.kind and filters.kind not in kept_by:
            continue
        if filters.failing_tests and kind not in WITH_TESTS:
            continue
        rows = search.ranked(getattr(search, method)(), limit)
        count = rows[0]["total"] if rows else 0
        total += min(count, COUNT_CAP)
        capped |= count > COUNT_CAP
        ranked += [(r["bucket"], rank, r["sort_name"], r["name"], r["id"], kind, r) for r in rows]
    ranked.sort(key=lambda item: item[:5])
    start = (page - 1) * per_page
    hits = [
        _hit(kind, row, SCORES[bucket] if query else 0.0)
        for bucket, _rank, _sort, _name, _id, kind, row in ranked[start : start + per_page]
    ]
    return SearchPage(hits, total, page, per_page, query, filters, total_capped=capped)
