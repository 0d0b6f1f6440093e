"""A reporter for connector tests that remembers what it was told."""

from __future__ import annotations


class RecordingReporter:
    def __init__(self) -> None:
        self.progress_calls: list[tuple[int, int]] = []
        self.warnings: list[str] = []
        self.skipped_schemas: list[tuple[str, str]] = []

    def progress(self, done: int, total: int) -> None:
        self.progress_calls.append((done, total))

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def skipped(self, database: str, schema: str) -> None:
        self.skipped_schemas.append((database, schema))
