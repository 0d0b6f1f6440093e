"""The short reason of a failed sync, for people who may not see its full error.

A run keeps the connector's whole message, which names hosts, ports, users, accounts and
databases so that an admin can act on it; analysts get its category only. The category is
derived from the stored text, so every run already recorded gets one too."""

from __future__ import annotations

from .models import SyncRun

# (words any of which puts an error in the category, the category); the first match wins,
# so the specific come before the general ("Authentication failed ... could not connect").
_REASONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("stopped answering",), "The worker running the sync stopped"),
    (("timed out", "timeout", "time out"), "Timed out"),
    (
        (
            "authentication failed",
            "refused the token",
            "refused the key",
            "refused the login",
            "refused the service account key",
            "cannot be read: paste",
        ),
        "Authentication failed",
    ),
    (
        (
            "may not connect",
            "lacks a privilege",
            "refused user",
            "refuses connections",
            "denied access",
            "was denied",
            "permission denied",
            "answered 403",
        ),
        "Permission denied",
    ),
    (("does not exist", "was not found"), "Something the settings name was not found"),
    (("was lost",), "The connection to {target} was lost"),
    (
        (
            "could not connect",
            "could not reach",
            "did not answer",
            "unknown host",
            "ssl negotiation",
        ),
        "Could not connect to {target}",
    ),
    (("not valid json", "not a dbt artifact"), "Could not read what {target} sent"),
    (("unexpected error",), "The sync stopped on an unexpected error"),
)
FALLBACK = "The sync failed"


def sync_error_reason(run: SyncRun) -> str:
    """A category of the run's error, naming no host, port, user or account."""
    if not run.error:
        return ""
    lowered = run.error.lower()
    reason = next(
        (category for words, category in _REASONS if any(w in lowered for w in words)),
        FALLBACK,
    )
    reason = reason.format(target=_target(run))
    if run.status in SyncRun.ACTIVE:
        reason += "; it will be retried"
    return f"{reason}. An admin can see the details."


def sync_error_for(run: SyncRun, *, full: bool) -> str:
    """The error as the viewer may see it: all of it for admins, its reason for the rest."""
    return run.error if full else sync_error_reason(run)


def _target(run: SyncRun) -> str:
    connector = run.integration.connector_obj
    return "the warehouse" if connector.is_warehouse else connector.label
