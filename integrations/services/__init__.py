"""Writes for integrations: creating them and running their syncs."""

from .integrations import (
    IntegrationHasDependents,
    IntegrationRequirementMissing,
    integration_create,
    integration_delete,
    integration_dependents_stranded,
    integration_requirements_missing,
    integration_test_connection,
    integration_update,
)
from .sync import (
    SyncAlreadyActive,
    SyncOutcome,
    sync_execute,
    sync_reap_stale,
    sync_start,
)

__all__ = [
    "IntegrationHasDependents",
    "IntegrationRequirementMissing",
    "integration_delete",
    "integration_dependents_stranded",
    "SyncAlreadyActive",
    "SyncOutcome",
    "integration_create",
    "integration_requirements_missing",
    "integration_test_connection",
    "integration_update",
    "sync_execute",
    "sync_reap_stale",
    "sync_start",
]
