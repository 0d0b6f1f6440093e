"""Creating and changing integrations, with the same validation, connection test and
guards whether the caller is a form, Django admin or a management command."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.utils import pretty_name

from catalog.services.dbt_take_back import take_back_integration

from ..connectors import all_entries, registry_entry
from ..connectors.base import CATEGORY_LABELS, Connector, ConnectorError
from ..models import Integration
from .secrets import scrub

logger = logging.getLogger(__name__)

DESTINATION_CHANGED = (
    "The {changed} changed: type the {secret} again; the stored one is not sent to a new server."
)


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


def field_words(connector: Connector, names: list[str], *, conjunction: str = "and") -> str:
    """Form labels as words in a sentence: "host", "host and port", "host, port or SSL mode"."""
    words = []
    for name in names:
        field = connector.form.base_fields.get(name)
        label = str((field and field.label) or pretty_name(name))
        words.append(label if label[1:2].isupper() else label[:1].lower() + label[1:])
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _destination_value(value: Any) -> str:
    # Case and surrounding spaces aside, a value that reads differently counts as another
    # destination: the worst a false change costs is a secret typed again.
    return "" if value is None else str(value).strip().lower().rstrip("/")


def _valid_fields(connector: Connector, config: dict[str, Any]) -> forms.Form:
    """The connector's form over `config`, validated: its cleaned_data holds every field that
    is valid on its own, even when others are not (a blank secret, say)."""
    form = connector.form(data=config)
    form.is_valid()
    return form


def integration_destination_changes(
    *, integration: Integration, config: dict[str, Any]
) -> list[str]:
    """The fields saying where the secrets go (host, port, account, access URL) whose value in
    `config` differs from the stored one. Both sides are read through the connector's form, so
    that 5432 and "5432", or an access URL and its rebuilt form, compare alike; a value the form
    refuses is compared as given, and so most likely counts as changed."""
    connector = integration.connector_obj
    typed = {**config, **_valid_fields(connector, config).cleaned_data}
    stored = {**integration.config, **_valid_fields(connector, integration.config).cleaned_data}
    return [
        name
        for name in connector.destination_fields
        if _destination_value(typed.get(name)) != _destination_value(stored.get(name))
    ]


def integration_config_merge(
    *, integration: Integration, config: dict[str, Any]
) -> dict[str, Any]:
    """The settings an edit would save, cleaned, with a secret left blank standing for the
    stored one while the secrets go where they went before.

    When the host, port, account or access URL changed, each stored secret the new settings
    would send must be typed again (a ValidationError on its field) and none is carried over:
    the one stored was given for the old destination, and whoever runs the new one could
    simply ask for it. Refused here, before any connection, for every caller.
    """
    connector = integration.connector_obj
    blank = [key for key in connector.secret_fields if not config.get(key)]
    stored = {key: integration.config.get(key) or "" for key in blank}
    changed = integration_destination_changes(integration=integration, config=config)
    if not changed:
        return _clean_config(connector, {**config, **stored})
    typed = _valid_fields(connector, config)
    retype = [key for key in connector.secrets_sent(typed.cleaned_data) if stored.get(key)]
    if retype:
        logger.info(
            "integration %s: %s changed, stored secrets not reused", integration.pk, changed
        )
        words = field_words(connector, changed)
        errors = {
            name: [str(e) for e in errs]
            for name, errs in typed.errors.items()
            if name in typed.fields and name not in connector.secret_fields
        }
        for key in retype:
            secret = field_words(connector, [key])
            errors[key] = [DESTINATION_CHANGED.format(changed=words, secret=secret)]
        raise ValidationError(errors)
    return _clean_config(connector, config)


def integration_update_test(*, integration: Integration, config: dict[str, Any]) -> str:
    """*Test connection* on the edit form: the settings as saving would take them, so a stored
    secret is never tried against a changed destination."""
    cleaned = integration_config_merge(integration=integration, config=config)
    return integration_test_connection(connector=integration.connector_obj, config=cleaned)


def integration_update(
    *,
    integration: Integration,
    name: str | None = None,
    config: dict[str, Any],
    test_connection: bool = True,
) -> Integration:
    """Change settings; a secret left blank keeps its stored value unless the destination
    changed (integration_config_merge)."""
    connector = integration.connector_obj
    cleaned = integration_config_merge(integration=integration, config=config)
    if test_connection:
        integration_test_connection(connector=connector, config=cleaned)
    integration.config = cleaned
    if name is not None:
        integration.name = name
    integration.full_clean()
    integration.save()
    logger.info("integration %s updated", integration.pk)
    return integration


class IntegrationHasDependents(ValidationError):
    """Disconnecting this integration would strand integrations that build on it."""

    def __init__(self, dependents: list[Integration]) -> None:
        names = ", ".join(d.name for d in dependents)
        super().__init__(
            f"{names} enrich this warehouse's tables and need a warehouse; confirm that they "
            "are disconnected too."
        )
        self.dependents = dependents


def integration_dependents_stranded(integration: Integration) -> list[Integration]:
    """The integrations that would be left without what they require if this one went."""
    connector = integration.connector_obj
    entries = [e for e in all_entries() if e.connector]
    providers = [e.key for e in entries if e.connector.category == connector.category]
    others_remain = (
        Integration.objects.filter(connector__in=providers).exclude(pk=integration.pk).exists()
    )
    if others_remain:
        return []
    needing = [e.key for e in entries if connector.category in e.connector.requires]
    return list(Integration.objects.filter(connector__in=needing))


@transaction.atomic
def integration_delete(
    *, integration: Integration, disconnect_dependents: bool = False
) -> list[str]:
    """Disconnect an integration: its catalog objects and sync history go with it.

    When it is the last warehouse, dbt Cloud integrations (whose metadata lives on its
    tables) must be disconnected with it, and the caller must say so.
    Returns the names of every integration removed.
    """
    from .schedule import integration_schedule_clear

    # Lock the integrations first so that a dbt Cloud connected meanwhile is seen.
    list(Integration.objects.select_for_update().order_by("pk"))
    dependents = integration_dependents_stranded(integration)
    if dependents and not disconnect_dependents:
        raise IntegrationHasDependents(dependents)
    removed = []
    for target in [*dependents, integration]:
        integration_schedule_clear(integration=target)
        # Before its nodes cascade away: what it wrote on the tables returns to the
        # warehouse's values (a no-op for a warehouse, which has no nodes).
        take_back_integration(integration=target)
        removed.append(target.name)
        logger.info("integration %s (%s) disconnected", target.pk, target.connector)
        target.delete()
    return removed
