"""A reporter for connector tests that remembers what it was told."""

from __future__ import annotations


class RecordingReporter:
    def __init__(self) -> None:
        self.progress_calls: list[tuple[int, int]] = []
        self.warnings: list[str] = []
        self.skipped_schemas: list[tuple[str, str]] = []
        self.alive_calls = 0

    def progress(self, done: int, total: int) -> None:
        self.progress_calls.append((done, total))

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def skipped(self, database: str, schema: str) -> None:
        self.skipped_schemas.append((database, schema))

    def alive(self) -> None:
        self.alive_calls += 1


class Extracted:
    """What one `extract` yielded, sorted by kind and keyed by natural key."""

    def __init__(self, records: list, reporter: RecordingReporter) -> None:
        from integrations.connectors.base import (
            ColumnRecord,
            DatabaseRecord,
            SchemaRecord,
            TableRecord,
        )

        self.records = records
        self.reporter = reporter
        self.databases = [r for r in records if isinstance(r, DatabaseRecord)]
        self.schemas = {r.name: r for r in records if isinstance(r, SchemaRecord)}
        self.tables = {(r.schema, r.name): r for r in records if isinstance(r, TableRecord)}
        self.columns = {
            (r.schema, r.table, r.name): r for r in records if isinstance(r, ColumnRecord)
        }

    def columns_of(self, schema: str, table: str) -> list:
        found = [c for (s, t, _), c in self.columns.items() if (s, t) == (schema, table)]
        return sorted(found, key=lambda c: c.ordinal)


def extract_with(connector_module, config: dict) -> Extracted:
    """Run a connector's extract to the end and sort what it yielded."""
    reporter = RecordingReporter()
    records = list(connector_module.extract(config, reporter=reporter))
    return Extracted(records, reporter)
