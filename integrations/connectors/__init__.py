"""The registry of connectors: one module each, imported only when asked for."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from functools import cache

from .base import Connector

CONNECTOR_MODULES: dict[str, str] = {
    "postgres": "integrations.connectors.postgres",
    "redshift": "integrations.connectors.redshift",
    "dbt_cloud": "integrations.connectors.dbt_cloud",
    "mysql": "integrations.connectors.mysql",
    "snowflake": "integrations.connectors.snowflake",
    "bigquery": "integrations.connectors.bigquery",
}


class UnknownConnector(KeyError):
    pass


@dataclass(frozen=True)
class RegistryEntry:
    connector: Connector | None
    key: str
    unavailable_reason: str = ""

    @property
    def available(self) -> bool:
        return not self.unavailable_reason


def _installed(module: str) -> bool:
    # find_spec("google.cloud.bigquery") raises, rather than answering None, when the
    # parent package "google" is missing.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@cache
def _load(key: str) -> RegistryEntry:
    try:
        module = importlib.import_module(CONNECTOR_MODULES[key])
    except ImportError as exc:
        return RegistryEntry(None, key, f"Its module could not be imported: {exc}")
    connector: Connector = module.CONNECTOR
    if connector.driver and not _installed(connector.driver):
        package = connector.driver_package or connector.driver
        return RegistryEntry(
            connector, key, f"The driver library is not installed (pip install {package})."
        )
    return RegistryEntry(connector, key)


def registry_entry(key: str) -> RegistryEntry:
    if key not in CONNECTOR_MODULES:
        raise UnknownConnector(key)
    return _load(key)


def get_connector(key: str) -> Connector:
    """The connector for a key, whether or not its driver is installed."""
    entry = registry_entry(key)
    if entry.connector is None:
        raise UnknownConnector(f"{key}: {entry.unavailable_reason}")
    return entry.connector


def all_entries() -> list[RegistryEntry]:
    return [_load(key) for key in CONNECTOR_MODULES]


def connector_choices() -> list[tuple[str, str]]:
    return [
        (entry.key, entry.connector.label if entry.connector else entry.key)
        for entry in all_entries()
    ]
