"""Forms of the Integrations tab. A connect form is the connector's own form plus a name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .connectors.base import Connector
from .models import Integration
from .services.integrations import field_words
from .services.schedule import parse_cron

SECRET_KEPT_HELP = "A value is stored. Leave this blank to keep it."
SECRET_RETYPE_HELP = " Changing the {destination} requires typing the {secret} again."


class _ConnectFormMixin:
    """Adds the integration's name and, when editing, keeps stored secrets."""

    connector: Connector
    instance: Integration | None = None

    def __init__(self, *args: Any, instance: Integration | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": instance.name, **instance.public_config()}
        super().__init__(*args, **kwargs)
        if instance is not None and hasattr(self, "use_stored_config"):
            self.use_stored_config(instance.config)
        for name in self.connector.secret_fields:
            field = self.fields[name]
            field.widget.attrs["autocomplete"] = "new-password"
            if instance is not None and instance.config.get(name):
                field.required = False
                field.help_text = SECRET_KEPT_HELP + self._retype_help(name)

    def _retype_help(self, secret: str) -> str:
        destination = list(self.connector.destination_fields)
        if not destination:
            return ""
        return SECRET_RETYPE_HELP.format(
            destination=field_words(self.connector, destination, conjunction="or"),
            secret=field_words(self.connector, [secret]),
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Integration.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError("Another integration already has this name.")
        return name

    def config(self) -> dict[str, Any]:
        """The connector settings as typed. A secret left blank stays blank here: whether the
        stored one may stand in is the service's call (integration_config_merge), made before
        any connection is tried."""
        return {k: v for k, v in self.cleaned_data.items() if k != "name"}

    def tested(self) -> None:
        """The typed credentials work: a new integration's form may now list what they reach
        (dbt Cloud's projects, environments and jobs); an edit form listed them already."""
        if self.instance is None and hasattr(self, "offer_choices"):
            self.offer_choices(self.config())

    def add_service_error(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


def connect_form_class(connector: Connector) -> type[forms.Form]:
    return type(
        f"{connector.form.__name__}Connect",
        (_ConnectFormMixin, connector.form),
        {
            "connector": connector,
            "name": forms.CharField(
                max_length=200, help_text="How this integration is called in the catalog."
            ),
            "field_order": ["name"],
        },
    )


class ScheduleForm(forms.Form):
    OFF, HOURLY, DAILY, CRON = "off", "hourly", "daily", "cron"
    frequency = forms.ChoiceField(
        choices=[
            (OFF, "No schedule"),
            (HOURLY, "Every hour"),
            (DAILY, "Every day at"),
            (CRON, "Cron expression"),
        ],
        widget=forms.RadioSelect,
    )
    time = forms.TimeField(
        required=False, initial="06:00", widget=forms.TimeInput(attrs={"type": "time"})
    )
    cron = forms.CharField(
        required=False, max_length=100, help_text="minute hour day month weekday"
    )

    @classmethod
    def for_integration(cls, integration: Integration, data=None) -> ScheduleForm:
        return cls(data=data, initial=cls.initial_from_cron(integration.schedule))

    @classmethod
    def initial_from_cron(cls, cron: str) -> dict[str, Any]:
        fields = cron.split()
        if not fields:
            return {"frequency": cls.OFF}
        if fields[1:] == ["*", "*", "*", "*"] and fields[0].isdigit():
            return {"frequency": cls.HOURLY}
        if fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[1].isdigit():
            return {"frequency": cls.DAILY, "time": f"{int(fields[1]):02d}:{int(fields[0]):02d}"}
        return {"frequency": cls.CRON, "cron": cron}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        frequency = data.get("frequency")
        if frequency == self.DAILY and not data.get("time"):
            self.add_error("time", "Give the time of day.")
        if frequency == self.CRON:
            try:
                parse_cron(data.get("cron") or "")
            except ValidationError as exc:
                self.add_error("cron", exc)
        return data

    def cron_expression(self) -> str:
        data = self.cleaned_data
        frequency = data["frequency"]
        if frequency == self.HOURLY:
            return "0 * * * *"
        if frequency == self.DAILY:
            return f"{data['time'].minute} {data['time'].hour} * * *"
        if frequency == self.CRON:
            return " ".join(data["cron"].split())
        return ""


class DisconnectForm(forms.Form):
    disconnect_dependents = forms.BooleanField(
        required=False, label="Also disconnect the integrations listed above"
    )
