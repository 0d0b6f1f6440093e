"""Writes for integrations: creating them and running their syncs."""

from .integrations import (
    IntegrationHasDependents,
    IntegrationRequirementMissing,
    integration_config_merge,
    integration_create,
    integration_delete,
    integration_dependents_stranded,
    integration_requirements_missing,
    integration_test_connection,
    integration_update,
    integration_update_test,
)
from .sync import (
    SyncAlreadyActive,
    SyncOutcome,
    sync_execute,
    sync_send,
    sync_start,
)
from .sync_recovery import sync_reap_stale

__all__ = [
    "IntegrationHasDependents",
    "IntegrationRequirementMissing",
    "integration_delete",
    "integration_dependents_stranded",
    "SyncAlreadyActive",
    "SyncOutcome",
    "integration_config_merge",
    "integration_create",
    "integration_requirements_missing",
    "integration_test_connection",
    "integration_update",
    "integration_update_test",
    "sync_execute",
    "sync_reap_stale",
    "sync_send",
    "sync_start",
]
