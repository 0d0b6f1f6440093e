"""Whom to ask for a role: the people who may give an account one, for the pages that refuse
an account without any."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

MAX_NAMED = 5


def role_granters() -> list[str]:
    """Active superusers and staff who may change users in Django admin (where roles are
    given), as "Name (e-mail)"; at most MAX_NAMED, so that a big team stays one sentence."""
    user_model = get_user_model()
    change_user = {"codename": "change_user", "content_type__app_label": "auth"}
    may_change_users = Q(
        **{f"user_permissions__{key}": value for key, value in change_user.items()}
    ) | Q(**{f"groups__permissions__{key}": value for key, value in change_user.items()})
    people = (
        user_model.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | (Q(is_staff=True) & may_change_users))
        .distinct()
        .order_by(user_model.USERNAME_FIELD)[:MAX_NAMED]
    )
    return [_named(person) for person in people]


def _named(person) -> str:
    name = person.get_full_name() or person.get_username()
    return f"{name} ({person.email})" if person.email else name


def no_role_message() -> str:
    granters = role_granters()
    whom = " or ".join([", ".join(granters[:-1]), granters[-1]] if len(granters) > 1 else granters)
    return (
        "Your account has no role yet, so it may not see the catalog or the integrations. "
        f"Ask {whom or 'an administrator'} to add you to the Analysts or Admins group."
    )
