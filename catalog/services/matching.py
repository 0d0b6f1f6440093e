"""Matching dbt nodes to warehouse tables, by each warehouse's own naming rules.

Postgres and Redshift fold unquoted identifiers to lower case, Snowflake to upper case,
and BigQuery keeps case. dbt renders `relation_name` quoted or not; a quoted part is
compared as written (Redshift folds even those), an unquoted one folded the warehouse's
way. Every warehouse integration the dbt integration may use is searched at once: an exact
database name beats "the warehouse's only database", and two warehouses that fit equally
make the node ambiguous rather than a guess. Every node ends with a result saying how it
matched, or why not and what came closest.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.connectors import UnknownConnector, all_entries, get_connector
from integrations.connectors.base import WAREHOUSE
from integrations.models import Integration

from ..models import Column, Table

PART = re.compile(r'"((?:[^"]|"")*)"|`([^`]*)`|([^.]+)')

# Rules a result names besides the exact ones ("relation_name", "database.schema.identifier",
# each with " + database mapping" or " + the warehouse's only database").
CASE_INSENSITIVE = "case-insensitive name"
AMBIGUOUS = "ambiguous"
# Where a warehouse cuts a longer identifier instead of refusing it: PostgreSQL keeps
# NAMEDATALEN - 1 = 63 bytes (with only a NOTICE), so dbt's long alias is a shorter table.
TRUNCATES_AT = {"postgres": 63}
# Redshift folds quoted identifiers to lower case too (unless a session turns on
# enable_case_sensitive_identifier): "Customers" is customers there.
QUOTED_FOLDED = {"redshift"}
# Exact database name (or the admin's mapping) beats the single-database fallback.
EXACT_DATABASE, ONLY_DATABASE = 2, 1


@dataclass(frozen=True)
class Ident:
    text: str
    quoted: bool


@dataclass(frozen=True)
class MatchResult:
    status: str  # matched | unmatched | no_table
    table_id: int | None = None
    rule: str = ""
    reason: str = ""
    candidate: str = ""


@dataclass(frozen=True)
class _Warehouse:
    pk: int
    name: str
    label: str
    case: str
    single: bool
    quoted_folded: bool
    max_bytes: int | None


@dataclass(frozen=True)
class _Names:
    """dbt's three parts as one warehouse would look them up."""

    database: str
    schema: str
    table: str
    level: int  # EXACT_DATABASE or ONLY_DATABASE
    database_rule: str
    same_database: bool  # the database is dbt's, up to case (a tie-break between warehouses)
    truncated: tuple[tuple[str, str], ...]  # (dbt's part, what the warehouse keeps of it)


@dataclass(frozen=True)
class _Removed:
    path: str
    warehouse: str
    run_id: int | None
    finished_at: datetime | None


def split_relation(relation_name: str) -> list[Ident]:
    """`"db"."schema"."table"`, `db.schema.table` or `` `project`.`dataset`.`table` ``."""
    parts = []
    for match in PART.finditer(relation_name.strip()):
        double, back, bare = match.groups()
        if double is not None:
            parts.append(Ident(double.replace('""', '"'), True))
        elif back is not None:
            parts.append(Ident(back, True))
        elif bare.strip():
            parts.append(Ident(bare.strip(), False))
    return parts


def fold(ident: Ident, case: str) -> str:
    if ident.quoted or case == "sensitive":
        return ident.text
    return ident.text.upper() if case == "upper" else ident.text.lower()


def truncate(text: str, max_bytes: int) -> str:
    """What PostgreSQL keeps of an identifier: its first bytes, never half a character."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def candidate_warehouses(dbt_integration: Integration) -> list[int]:
    """The warehouse integrations a dbt integration's nodes are matched against: every one,
    or those its config lists under `warehouse_ids` (the form's "Only warehouses")."""
    keys = [e.key for e in all_entries() if e.connector and e.connector.category == WAREHOUSE]
    found = Integration.objects.filter(connector__in=keys).order_by("pk")
    chosen = _ids((dbt_integration.config or {}).get("warehouse_ids"))
    if chosen:
        found = found.filter(pk__in=chosen)
    return list(found.values_list("pk", flat=True))


def _ids(values: Any) -> list[int]:
    if not isinstance(values, (list, tuple)):
        return []
    return [int(v) for v in values if str(v).strip().isdigit()]


def _warehouse(pk: int, name: str, connector: str) -> _Warehouse:
    try:
        described = get_connector(connector)
        case, single, label = described.identifier_case, described.single_database, described.label
    except UnknownConnector:  # a connector taken out of the registry: its tables stay
        case, single, label = "lower", False, connector
    return _Warehouse(
        pk=pk,
        name=name,
        label=label,
        case=case,
        single=single,
        quoted_folded=connector in QUOTED_FOLDED,
        max_bytes=TRUNCATES_AT.get(connector),
    )


class TableIndex:
    """Every live table of the warehouse integrations, looked up by name."""

    def __init__(self, warehouse_ids: Iterable[int]) -> None:
        self.warehouse_ids = list(warehouse_ids)
        rows = (
            Table.objects.filter(integration_id__in=self.warehouse_ids, removed=False)
            .order_by()
            .values_list(
                "id",
                "integration_id",
                "integration__name",
                "integration__connector",
                "schema__database__name",
                "schema__name",
                "name",
            )
        )
        self.exact: dict[tuple, int] = {}
        self.loose: dict[tuple, list[int]] = defaultdict(list)
        self.paths: dict[int, str] = {}
        self.integration_of: dict[int, int] = {}
        self.by_schema: dict[tuple, list[int]] = defaultdict(list)
        self.databases: dict[int, set[str]] = defaultdict(set)
        self.warehouses: dict[int, _Warehouse] = {}
        for pk, integration_id, wh_name, connector, db, schema, name in rows:
            self.exact[(integration_id, db, schema, name)] = pk
            self.loose[(integration_id, db.lower(), schema.lower(), name.lower())].append(pk)
            self.paths[pk] = f"{db}.{schema}.{name}"
            self.integration_of[pk] = integration_id
            self.by_schema[(db.lower(), schema.lower())].append(pk)
            self.databases[integration_id].add(db)
            if integration_id not in self.warehouses:
                self.warehouses[integration_id] = _warehouse(integration_id, wh_name, connector)
        self.schemas = {s for (_d, s) in self.by_schema}
        # Read once, and only when a node needs them: removed tables (to say a table went
        # away) and columns (to find the nearest table of an unmatched node).
        self._removed: dict[int, _Removed] | None = None
        self._removed_keys: dict[tuple, int] = {}
        self._columns: dict[int, frozenset[str]] | None = None

    def case_of_table(self, table_id: int) -> str:
        warehouse = self.warehouses.get(self.integration_of.get(table_id))
        return warehouse.case if warehouse else "lower"

    def match(
        self,
        *,
        relation_name: str,
        database: str,
        schema: str,
        identifier: str,
        materialized: str,
        database_map: dict[str, str],
        columns: list[str] | None = None,
        previous_table_id: int | None = None,
    ) -> MatchResult:
        """Which table a node is. `columns`: its documented column names (the nearest table
        of an unmatched node is the one holding most of them); `previous_table_id`: the table
        it matched before (when that one was removed, the reason says by which sync)."""
        if materialized == "ephemeral":
            return MatchResult(
                "no_table",
                reason="Ephemeral model: dbt inlines it into the models that select from it.",
            )
        parts = split_relation(relation_name) if relation_name else []
        rule = "relation_name"
        if len(parts) != 3:
            parts = [Ident(database, False), Ident(schema, False), Ident(identifier, False)]
            rule = "database.schema.identifier"
        names = {pk: self._names(wh, parts, database_map) for pk, wh in self.warehouses.items()}
        result = self._found(parts, names, rule, database_map)
        if result is None:
            result = self._unmatched(parts, names, database_map, columns)
        return self._with_removed(result, previous_table_id, names)

    # -- how one warehouse reads dbt's names -----------------------------------------------

    def _fold(self, wh: _Warehouse, ident: Ident) -> str:
        if ident.quoted and wh.quoted_folded and wh.case != "sensitive":
            return fold(Ident(ident.text, False), wh.case)
        return fold(ident, wh.case)

    def _names(self, wh: _Warehouse, parts: list[Ident], database_map: dict[str, str]) -> _Names:
        db_ident, schema_ident, name_ident = parts
        truncated = []

        def cut(text: str) -> str:
            if wh.max_bytes and len(text.encode()) > wh.max_bytes:
                short = truncate(text, wh.max_bytes)
                truncated.append((text, short))
                return short
            return text

        schema_name = cut(self._fold(wh, schema_ident))
        table_name = cut(self._fold(wh, name_ident))
        level, db_rule = EXACT_DATABASE, ""
        if db_ident.text in database_map:
            db_name, db_rule = database_map[db_ident.text], " + database mapping"
        else:
            db_name = cut(self._fold(wh, db_ident))
            known = self.databases[wh.pk]
            if db_name not in known and len(known) == 1 and wh.single:
                # A Postgres or Redshift connection reaches one database (a MySQL server is
                # one catalog database): whatever dbt calls it, its relations can only live
                # there. A Snowflake account or a BigQuery organisation reaches others.
                db_name = next(iter(known))
                level, db_rule = ONLY_DATABASE, " + the warehouse's only database"
        return _Names(
            database=db_name,
            schema=schema_name,
            table=table_name,
            level=level,
            database_rule=db_rule,
            same_database=db_name.lower() == database_map.get(db_ident.text, db_ident.text).lower(),
            truncated=tuple(truncated),
        )

    # -- the rules, strictest first --------------------------------------------------------

    def _found(
        self, parts: list[Ident], names: dict[int, _Names], rule: str, database_map: dict
    ) -> MatchResult | None:
        """The table dbt's names find in each warehouse: exactly, under its quoting rules;
        else equal but for case, where the warehouse folds names (a case slip is worth a
        guess, labelled as one; where it keeps case, as BigQuery does, another case is
        another table). The database part is found the same way for both, mapped or not.
        Across warehouses, an exact database name beats the single-database fallback before
        an exact table name beats a case-insensitive one."""
        hits = []  # (table, warehouse, exactly)
        for wh_id, n in names.items():
            pk = self.exact.get((wh_id, n.database, n.schema, n.table))
            if pk is not None:
                hits.append((pk, wh_id, True))
            elif self.warehouses[wh_id].case != "sensitive":
                key = (wh_id, n.database.lower(), n.schema.lower(), n.table.lower())
                hits.extend((pk, wh_id, False) for pk in self.loose.get(key, ()))
        if not hits:
            return None
        strength = lambda hit: (names[hit[1]].level, hit[2], names[hit[1]].same_database)  # noqa: E731
        top = max(strength(hit) for hit in hits)
        best = [hit for hit in hits if strength(hit) == top]
        if len({wh_id for _pk, wh_id, _exactly in best}) > 1:
            return self._ambiguous(parts, best, names, database_map)
        pk, wh_id, exactly = best[0]
        wh, n = self.warehouses[wh_id], names[wh_id]
        wanted = _dotted(parts)
        if len(best) > 1:
            paths = " and ".join(self.paths[pk] for pk, _wh, _exactly in best)
            return MatchResult(
                "unmatched",
                reason=f"No table {wanted}: {paths} differ from it only in case, and "
                f"{wh.label} tells them apart; which one dbt means cannot be guessed.",
                candidate=self.paths[pk],
            )
        if exactly and n.truncated:
            return MatchResult(
                "matched",
                pk,
                f"{rule}{n.database_rule} + truncated by {wh.label}",
                self._truncation(wh, n) + f" That is {self.paths[pk]} in {wh.name}.",
            )
        if exactly:
            return MatchResult("matched", pk, rule + n.database_rule)
        quoted = any(p.quoted for p in parts[1:])
        why = (
            f"dbt quotes it, and {wh.label} compares a quoted name as written"
            if quoted and not wh.quoted_folded
            else f"the table's name was created quoted, and {wh.label} folds dbt's unquoted "
            f"name to {wh.case} case"
        )
        reason = (
            f"dbt's {wanted} differs only in case from {self.paths[pk]} in {wh.name} ({why}); "
            "matched case-insensitively."
        )
        if n.truncated:
            reason += " " + self._truncation(wh, n)
        if n.database_rule:
            reason += f" Database {parts[0].text}{_database_said(n)}."
        return MatchResult("matched", pk, CASE_INSENSITIVE, reason)

    def _ambiguous(
        self, parts: list[Ident], best: list, names: dict[int, _Names], database_map: dict
    ) -> MatchResult:
        where = [f"{self.warehouses[wh].name} ({self.paths[pk]})" for pk, wh, _exactly in best]
        listed = ", ".join(where[:-1]) + f" and {where[-1]}"
        db = parts[0].text
        reason = (
            f"Ambiguous: {_dotted(parts)} fits tables in {len(where)} warehouse integrations "
            "equally: "
            f"{listed}. Say which under “Database names” (dbt_name = warehouse_name, e.g. "
            f"{db or '<dbt database>'} = {names[best[0][1]].database}), or tick one under "
            "“Only warehouses”."
        )
        databases = {names[wh].database for _pk, wh, _exactly in best}
        if len(databases) == 1:
            reason += (
                f" They all call the database {next(iter(databases))}, so only “Only "
                "warehouses” can tell them apart."
            )
        return MatchResult("unmatched", rule=AMBIGUOUS, reason=reason)

    def _unmatched(
        self,
        parts: list[Ident],
        names: dict[int, _Names],
        database_map: dict[str, str],
        columns: list[str] | None,
    ) -> MatchResult:
        wanted = _dotted(parts)
        if not self.paths:
            return MatchResult(
                "unmatched",
                reason=f"No table {wanted}: the warehouse catalog has no tables (sync the warehouse first).",
            )
        db, schema = database_map.get(parts[0].text, parts[0].text), parts[1].text
        pool = self.by_schema.get((db.lower(), schema.lower()))
        if not pool:
            pool = [
                pk for (_d, s), pks in self.by_schema.items() if s == schema.lower() for pk in pks
            ]
        if not pool:
            # No schema of that name anywhere: the nearest name of every table, but columns
            # are compared only within a schema (every table's would cost too much).
            pool, columns = list(self.paths), None
        reason = f"No table {wanted} in the warehouse catalog"
        reason += "." if schema.lower() in self.schemas else f"; no schema named {schema} either."
        for wh_id, n in names.items():
            if n.truncated:
                reason += " " + self._truncation(self.warehouses[wh_id], n)
                break
        gone = self._removed_by_name(names)
        if gone is not None:
            reason += f" A table of that name, {_gone(gone)}."
        pk, overlap, documented = self._nearest(f"{db}.{schema}.{parts[2].text}", pool, columns)
        candidate = self.paths[pk] if pk is not None else ""
        if candidate:
            reason += f" Nearest: {candidate}."
            if overlap:
                reason += f" It has {overlap} of the {documented} documented columns."
            wh = self.warehouses[self.integration_of[pk]]
            if candidate.lower() == f"{db}.{schema}.{parts[2].text}".lower():
                reason += (
                    f" It differs only in case, and {wh.label} keeps case: another case is "
                    "another table."
                )
        return MatchResult("unmatched", reason=reason, candidate=candidate)

    def _nearest(
        self, wanted: str, pool: list[int], columns: list[str] | None
    ) -> tuple[int | None, int, int]:
        """The table most like the node: the one holding most of its documented columns
        (at least half of them), nearer names breaking ties; else the nearest name."""
        wanted = wanted.lower()
        declared = {c.lower() for c in columns or () if c}
        if declared:
            have = self._columns_of_tables()
            scored = [(len(declared & have.get(pk, frozenset())), pk) for pk in pool]
            most = max((score for score, _pk in scored), default=0)
            if most and most * 2 >= len(declared):
                best = [pk for score, pk in scored if score == most]
                pk = max(
                    best,
                    key=lambda pk: difflib.SequenceMatcher(
                        None, wanted, self.paths[pk].lower()
                    ).ratio(),
                )
                return pk, most, len(declared)
        by_path = {self.paths[pk].lower(): pk for pk in reversed(pool)}
        close = difflib.get_close_matches(wanted, list(by_path), n=1, cutoff=0.6)
        return (by_path[close[0]] if close else None), 0, len(declared)

    def _truncation(self, wh: _Warehouse, n: _Names) -> str:
        return " ".join(
            f"dbt's identifier {long} is {len(long.encode())} bytes; {wh.label} truncates "
            f"identifiers to {wh.max_bytes} bytes, so it names {short}."
            for long, short in n.truncated
        )

    # -- tables that went away -------------------------------------------------------------

    def _with_removed(
        self, result: MatchResult, previous: int | None, names: dict[int, _Names]
    ) -> MatchResult:
        if previous is None or previous == result.table_id or previous in self.paths:
            return result
        gone = self._removed_tables().get(previous)
        if gone is None:
            return result
        note = f"The table it matched before, {_gone(gone)}."
        reason = result.reason
        if result.status == "unmatched":
            # The same table found by name says the same thing less well.
            reason = reason.replace(f" A table of that name, {_gone(gone)}.", "")
            head, sep, tail = reason.partition(" Nearest: ")
            reason = f"{head} {note}{sep}{tail}"
        else:
            reason = f"{reason} {note}".strip()
        return MatchResult(result.status, result.table_id, result.rule, reason, result.candidate)

    def _removed_by_name(self, names: dict[int, _Names]) -> _Removed | None:
        removed = self._removed_tables()
        for wh_id, n in names.items():
            pk = self._removed_keys.get((wh_id, n.database, n.schema, n.table))
            if pk is not None:
                return removed[pk]
        return None

    def _removed_tables(self) -> dict[int, _Removed]:
        if self._removed is None:
            rows = (
                Table.objects.filter(integration_id__in=self.warehouse_ids, removed=True)
                .order_by()
                .values_list(
                    "id",
                    "integration_id",
                    "integration__name",
                    "schema__database__name",
                    "schema__name",
                    "name",
                    "last_changed_run_id",
                    "last_changed_run__finished_at",
                )
            )
            self._removed = {}
            for pk, wh_id, wh_name, db, schema, name, run_id, finished_at in rows:
                self._removed[pk] = _Removed(f"{db}.{schema}.{name}", wh_name, run_id, finished_at)
                self._removed_keys.setdefault((wh_id, db, schema, name), pk)
        return self._removed

    def _columns_of_tables(self) -> dict[int, frozenset[str]]:
        if self._columns is None:
            found: dict[int, set[str]] = defaultdict(set)
            rows = (
                Column.objects.filter(integration_id__in=self.warehouse_ids, removed=False)
                .order_by()
                .values_list("table_id", "name")
            )
            for table_id, name in rows:
                found[table_id].add(name.lower())
            self._columns = {pk: frozenset(names) for pk, names in found.items()}
        return self._columns


def _dotted(parts: list[Ident]) -> str:
    return ".".join(p.text for p in parts)


def _database_said(n: _Names) -> str:
    if n.level == ONLY_DATABASE:
        return f" taken as the warehouse's only database, {n.database}"
    return f" mapped to {n.database}"


def _gone(gone: _Removed) -> str:
    if gone.run_id is None:
        return f"{gone.path}, was removed from {gone.warehouse} by an earlier sync"
    when = ""
    if gone.finished_at is not None:
        when = f" (finished {gone.finished_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    return f"{gone.path}, was removed from {gone.warehouse} by sync run #{gone.run_id}{when}"


def match_columns(
    declared: list[str], present: list[str], case: str
) -> tuple[dict[str, str], list[str], list[str]]:
    """Pair dbt's documented columns with the warehouse's; returns (dbt → warehouse name,
    documented but missing, present but undocumented).

    An exact name wins; otherwise names compare case-insensitively whatever the table rule
    (`case` is kept for symmetry): Postgres and Snowflake fold unquoted column names, and
    BigQuery and MySQL compare column names without case even where table names keep it.
    """
    exact = set(present)
    by_folded: dict[str, str] = {}
    for name in present:
        by_folded.setdefault(name.lower(), name)
    pairs, missing = {}, []
    for name in declared:
        found = name if name in exact else by_folded.get(name.lower())
        if found is None:
            missing.append(name)
        else:
            pairs[name] = found
    matched = set(pairs.values())
    undocumented = [name for name in present if name not in matched]
    return pairs, missing, undocumented
