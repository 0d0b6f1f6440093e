"""The two roles. Admins (and superusers) configure integrations; Analysts browse."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

ADMINS = "Admins"
ANALYSTS = "Analysts"
MANAGE_PERMISSION = "integrations.manage_integrations"


def can_manage_integrations(user) -> bool:
    return bool(user and user.is_active and user.has_perm(MANAGE_PERMISSION))


def require_manager(user) -> None:
    """The server-side check behind every changing view: hidden buttons are not enough."""
    if not can_manage_integrations(user):
        raise PermissionDenied("Only admins may connect, change or sync integrations.")
