"""Registering extra connectors in tests (the registry is a module-level dict)."""

from __future__ import annotations

from contextlib import contextmanager

from django import forms

from integrations import connectors
from integrations.connectors.base import TRANSFORM, Connector


class TokenForm(forms.Form):
    token = forms.CharField(widget=forms.PasswordInput)


def _no_records(config, *, reporter, state=None):
    return iter(())


# A secondary connector shaped like dbt Cloud, for testing the guard before dbt Cloud exists.
SECONDARY = Connector(
    key="secondary",
    label="Secondary tool",
    category=TRANSFORM,
    form=TokenForm,
    extract=_no_records,
    secret_fields=("token",),
    requires=("warehouse",),
)


@contextmanager
def registered(key: str, module: str):
    connectors.CONNECTOR_MODULES[key] = module
    connectors._load.cache_clear()
    try:
        yield
    finally:
        del connectors.CONNECTOR_MODULES[key]
        connectors._load.cache_clear()
