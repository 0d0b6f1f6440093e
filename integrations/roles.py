"""The two roles. Admins (and superusers) configure integrations; Analysts browse."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

ADMINS = "Admins"
ANALYSTS = "Analysts"
MANAGE_PERMISSION = "integrations.manage_integrations"
# Both roles grant it and superusers hold every permission, so it stands for "has a role";
# checking a permission, not group names, shares the cache the page header loads anyway.
ROLE_PERMISSION = "catalog.view_table"

_CATALOG = [
    ("catalog", f"{verb}_{model}")
    for verb in ("view", "change")
    for model in ("database", "schema", "table", "column")
]
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    ADMINS: [
        ("integrations", "manage_integrations"),
        ("integrations", "view_integration"),
        ("integrations", "change_integration"),
        ("integrations", "delete_integration"),
        ("integrations", "view_syncrun"),
        *_CATALOG,
    ],
    ANALYSTS: [
        ("integrations", "view_integration"),
        ("integrations", "view_syncrun"),
        *_CATALOG,
    ],
}


def roles_install(group_model, permission_model) -> None:
    """Create both groups with their permissions; safe to run again. Takes the models so
    that the data migration can pass its historical ones."""
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for app_label, codename in wanted:
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )


def has_role(user) -> bool:
    """An Analyst, an Admin or a superuser: someone who may see the catalog at all."""
    return bool(user and user.is_active and user.has_perm(ROLE_PERMISSION))


def can_manage_integrations(user) -> bool:
    return bool(user and user.is_active and user.has_perm(MANAGE_PERMISSION))


def require_manager(user) -> None:
    """The server-side check behind every changing view: hidden buttons are not enough."""
    if not can_manage_integrations(user):
        raise PermissionDenied("Only admins may connect, change or sync integrations.")
