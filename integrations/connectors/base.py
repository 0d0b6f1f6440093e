"""What every connector declares, the records it yields and the errors it raises.

Connectors never touch catalog models: they yield these small records and
`catalog.services` applies them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django import forms


class ConnectorError(Exception):
    """A failure an admin must fix (credentials, permissions, a missing database).

    The message is shown to admins as it is: it must say what to check and must
    never contain a secret.
    """


class TransientConnectorError(ConnectorError):
    """A failure worth retrying as it is (a timeout, a refused connection, a 5xx)."""


class Reporter(Protocol):
    """How an extraction reports back to its sync run while it works."""

    def progress(self, done: int, total: int) -> None: ...

    def warning(self, message: str) -> None: ...

    def skipped(self, database: str, schema: str) -> None:
        """A schema that could not be read this time: the catalog keeps what it had of it
        rather than marking it all removed."""

    def alive(self) -> None:
        """Still working (waiting out a rate limit, say): keeps the run from being taken
        for one whose worker died."""


@dataclass(frozen=True, slots=True)
class DatabaseRecord:
    name: str
    description: str = ""
    owner: str = ""


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    database: str
    name: str
    description: str = ""
    owner: str = ""


@dataclass(frozen=True, slots=True)
class TableRecord:
    database: str
    schema: str
    name: str
    kind: str
    description: str = ""
    owner: str = ""
    row_estimate: int | None = None
    last_altered: datetime | None = None
    definition: str = ""
    # The warehouse's own labels (BigQuery labels as "key:value"); people's tags win.
    tags: tuple[str, ...] = ()
    # Warehouse-specific facts without a column of their own: partitioning, clustering, bytes.
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ColumnRef:
    database: str
    schema: str
    table: str
    column: str


@dataclass(frozen=True, slots=True)
class ColumnRecord:
    database: str
    schema: str
    table: str
    name: str
    data_type: str
    ordinal: int
    nullable: bool = True
    default: str = ""
    description: str = ""
    is_primary_key: bool = False
    foreign_key: ColumnRef | None = None


Record = DatabaseRecord | SchemaRecord | TableRecord | ColumnRecord
TestConnection = Callable[[dict[str, Any]], str]
Extract = Callable[..., Iterator[Record]]


@dataclass(frozen=True)
class Connector:
    """One kind of integration: what it is, what it needs and how it extracts."""

    key: str
    label: str
    category: str
    form: type[forms.Form]
    extract: Extract
    description: str = ""
    aliases: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()
    # The settings that say where the secrets are sent, or how safely (host, port, SSL mode,
    # account, access URL). When one of them changes, no stored secret goes along: each must
    # be typed again (integrations.services.integrations.integration_config_merge).
    destination_fields: tuple[str, ...] = ()
    # The secret fields a config sends, when that depends on the config (Snowflake sends the
    # password or the key, never both); None: all of secret_fields.
    sent_secrets: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
    # Categories of integration that must exist before this one may be connected.
    requires: tuple[str, ...] = ()
    # Returns a short human summary ("PostgreSQL 15.19, 3 schemas") or raises ConnectorError.
    test_connection: TestConnection | None = None
    # The importable module of the driver library, so a missing one marks the
    # connector unavailable instead of breaking start-up.
    driver: str = ""
    driver_package: str = ""
    # How the warehouse stores unquoted identifiers: "lower" (Postgres, Redshift),
    # "upper" (Snowflake) or "sensitive" (BigQuery). dbt matching compares by it.
    identifier_case: str = "lower"
    # True where one connection reaches one database (Postgres, Redshift, a MySQL server
    # catalogued as one database): dbt's database name can then only mean that one.
    single_database: bool = False
    logo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_warehouse(self) -> bool:
        return self.category == WAREHOUSE

    def secrets_sent(self, config: dict[str, Any]) -> tuple[str, ...]:
        return self.sent_secrets(config) if self.sent_secrets else self.secret_fields


WAREHOUSE = "warehouse"
TRANSFORM = "transform"
CATEGORY_LABELS = {
    WAREHOUSE: "Warehouses and databases",
    TRANSFORM: "Data transformation",
}


def split_patterns(value: str | Iterable[str] | None) -> list[str]:
    """Patterns typed one per line or comma separated, blanks dropped."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(",", "\n").splitlines()
    return [item.strip() for item in value if item.strip()]


def name_included(name: str, *, include: list[str], exclude: list[str]) -> bool:
    """Glob matching (`analytics_*`), case-insensitive, exclude winning over include."""
    lowered = name.lower()
    if include and not any(fnmatch.fnmatchcase(lowered, p.lower()) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(lowered, p.lower()) for p in exclude)


class PatternListField(forms.CharField):
    """A textarea of glob patterns, cleaned to a list."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            value = "\n".join(str(item) for item in value)
        return super().to_python(value)

    def clean(self, value: Any) -> list[str]:
        return split_patterns(super().clean(value))
