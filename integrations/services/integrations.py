"""Creating and changing integrations, with the same validation, connection test and
guards whether the caller is a form, Django admin or a management command."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..connectors import all_entries, registry_entry
from ..connectors.base import CATEGORY_LABELS, Connector, ConnectorError
from ..models import Integration
from .secrets import scrub

logger = logging.getLogger(__name__)


class IntegrationRequirementMissing(ValidationError):
    """A secondary integration (dbt Cloud) asked for before what it stands on exists."""


def integration_requirements_missing(connector: Connector) -> list[str]:
    """The categories this connector requires that no integration provides yet."""
    missing = []
    for category in connector.requires:
        keys = [e.key for e in all_entries() if e.connector and e.connector.category == category]
        if not Integration.objects.filter(connector__in=keys).exists():
            missing.append(category)
    return missing


def _ensure_requirements(connector: Connector) -> None:
    missing = integration_requirements_missing(connector)
    if missing:
        needed = ", ".join(CATEGORY_LABELS.get(c, c).lower() for c in missing)
        raise IntegrationRequirementMissing(
            f"{connector.label} adds metadata to tables a warehouse integration has "
            f"already catalogued: connect one of the {needed} first."
        )


def _clean_config(connector: Connector, data: dict[str, Any]) -> dict[str, Any]:
    form = connector.form(data=data)
    if not form.is_valid():
        raise ValidationError(
            {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        )
    return form.cleaned_data


def integration_test_connection(*, connector: Connector, config: dict[str, Any]) -> str:
    """Run the connector's test; raises ValidationError with a message fit for a form."""
    if connector.test_connection is None:
        return "This connector has no connection test."
    secrets = [str(config.get(k) or "") for k in connector.secret_fields]
    try:
        return connector.test_connection(config)
    except ConnectorError as exc:
        raise ValidationError(f"Connection test failed: {scrub(str(exc), secrets)}") from None


def _connector_for(key: str) -> Connector:
    entry = registry_entry(key)
    if not entry.available:
        raise ValidationError(f"The {key} connector is unavailable: {entry.unavailable_reason}")
    return entry.connector


def integration_create(
    *,
    connector_key: str,
    name: str,
    config: dict[str, Any],
    user=None,
    test_connection: bool = True,
) -> Integration:
    """Validate, guard, test and save a new integration."""
    connector = _connector_for(connector_key)
    _ensure_requirements(connector)
    cleaned = _clean_config(connector, config)
    if test_connection:
        integration_test_connection(connector=connector, config=cleaned)
    integration = Integration(connector=connector.key, name=name, config=cleaned, created_by=user)
    integration.full_clean()
    with transaction.atomic():
        # Checked again inside the transaction that saves, so the guard holds for any caller.
        _ensure_requirements(connector)
        integration.save()
    logger.info("integration %s (%s) created", integration.pk, connector.key)
    return integration


def integration_update(
    *,
    integration: Integration,
    name: str | None = None,
    config: dict[str, Any],
    test_connection: bool = True,
) -> Integration:
    """Change settings; a secret left blank keeps its stored value."""
    connector = integration.connector_obj
    merged = dict(config)
    for key in connector.secret_fields:
        if not merged.get(key):
            merged[key] = integration.config.get(key, "")
    cleaned = _clean_config(connector, merged)
    if test_connection:
        integration_test_connection(connector=connector, config=cleaned)
    integration.config = cleaned
    if name is not None:
        integration.name = name
    integration.full_clean()
    integration.save()
    logger.info("integration %s updated", integration.pk)
    return integration
