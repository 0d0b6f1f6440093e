"""Matching dbt nodes to warehouse tables, by each warehouse's own naming rules.

Postgres and Redshift fold unquoted identifiers to lower case, Snowflake to upper case,
and BigQuery keeps case. dbt renders `relation_name` quoted or not; a quoted part is
compared as written, an unquoted one folded the warehouse's way. Every node ends with a
result saying how it matched, or why not and what came closest.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass

from integrations.connectors import get_connector

from ..models import Table

PART = re.compile(r'"((?:[^"]|"")*)"|`([^`]*)`|([^.]+)')


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


class TableIndex:
    """Every live table of the warehouse integrations, looked up by name."""

    def __init__(self, warehouse_ids: list[int]) -> None:
        rows = (
            Table.objects.filter(integration_id__in=warehouse_ids, removed=False)
            .order_by()
            .values_list(
                "id",
                "integration_id",
                "integration__connector",
                "schema__database__name",
                "schema__name",
                "name",
            )
        )
        self.exact: dict[tuple, int] = {}
        self.loose: dict[tuple, list[int]] = defaultdict(list)
        self.paths: dict[int, str] = {}
        self.by_schema: dict[tuple, list[str]] = defaultdict(list)
        self.databases: dict[int, set[str]] = defaultdict(set)
        self.case: dict[int, str] = {}
        self.single: dict[int, bool] = {}
        for pk, integration_id, connector, db, schema, name in rows:
            self.exact[(integration_id, db, schema, name)] = pk
            self.loose[(db.lower(), schema.lower(), name.lower())].append(pk)
            self.paths[pk] = f"{db}.{schema}.{name}"
            self.by_schema[(db.lower(), schema.lower())].append(f"{db}.{schema}.{name}")
            self.databases[integration_id].add(db)
            if integration_id not in self.case:
                described = get_connector(connector)
                self.case[integration_id] = described.identifier_case
                self.single[integration_id] = described.single_database
        self.all_paths = list(self.paths.values())
        self.integration_of = {
            pk: integration_id for (integration_id, *_rest), pk in self.exact.items()
        }

    def case_of_table(self, table_id: int) -> str:
        return self.case.get(self.integration_of.get(table_id), "lower")

    def match(
        self,
        *,
        relation_name: str,
        database: str,
        schema: str,
        identifier: str,
        materialized: str,
        database_map: dict[str, str],
    ) -> MatchResult:
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
        db_ident, schema_ident, name_ident = parts
        for integration_id, case in self.case.items():
            schema_name, table_name = fold(schema_ident, case), fold(name_ident, case)
            db_name, db_rule = self._database(integration_id, db_ident, case, database_map)
            pk = self.exact.get((integration_id, db_name, schema_name, table_name))
            if pk is not None:
                return MatchResult("matched", pk, rule + db_rule)
        loose = self.loose.get(
            (
                self._mapped(db_ident.text, database_map).lower(),
                schema_ident.text.lower(),
                name_ident.text.lower(),
            ),
            [],
        )
        # Where the warehouse folds names, a case slip is worth a guess; where it keeps
        # case (BigQuery), another case is another table.
        loose = [pk for pk in loose if self.case_of_table(pk) != "sensitive"]
        if len(loose) == 1:
            return MatchResult("matched", loose[0], "case-insensitive name")
        wanted = f"{db_ident.text}.{schema_ident.text}.{name_ident.text}"
        return self._unmatched(wanted, db_ident.text, schema_ident.text, database_map)

    def _mapped(self, name: str, database_map: dict[str, str]) -> str:
        return database_map.get(name, name)

    def _database(
        self, integration_id: int, ident: Ident, case: str, database_map: dict[str, str]
    ) -> tuple[str, str]:
        if ident.text in database_map:
            return database_map[ident.text], " + database mapping"
        folded = fold(ident, case)
        known = self.databases[integration_id]
        if folded not in known and len(known) == 1 and self.single[integration_id]:
            # A Postgres or Redshift connection reaches one database (a MySQL server is one
            # catalog database): whatever dbt calls it, its relations can only live there.
            # A Snowflake account or a BigQuery organisation reaches others.
            return next(iter(known)), " + the warehouse's only database"
        return folded, ""

    def _unmatched(
        self, wanted: str, db: str, schema: str, database_map: dict[str, str]
    ) -> MatchResult:
        if not self.paths:
            return MatchResult(
                "unmatched",
                reason=f"No table {wanted}: the warehouse catalog has no tables (sync the warehouse first).",
            )
        pool = self.by_schema.get((self._mapped(db, database_map).lower(), schema.lower()))
        if not pool:
            pool = [
                p for (d, s), paths in self.by_schema.items() if s == schema.lower() for p in paths
            ] or self.all_paths
        close = difflib.get_close_matches(
            wanted.lower(), [p.lower() for p in pool], n=1, cutoff=0.6
        )
        candidate = next((p for p in pool if close and p.lower() == close[0]), "")
        schema_known = any(s == schema.lower() for (_d, s) in self.by_schema)
        reason = f"No table {wanted} in the warehouse catalog"
        reason += "." if schema_known else f"; no schema named {schema} either."
        if candidate:
            reason += f" Nearest: {candidate}."
        return MatchResult("unmatched", reason=reason, candidate=candidate)


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
