"""dbt Cloud: jobs, runs and artifacts that enrich the tables a warehouse integration
has catalogued. A secondary integration: it needs a warehouse first."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils.html import format_html

from .base import (
    TRANSFORM,
    Connector,
    ConnectorError,
    PatternListField,
    Reporter,
    split_patterns,
)
from .dbt_cloud_api import DbtCloudClient
from .dbt_cloud_hosts import AccessUrlRefused, access_url_checked
from .dbt_cloud_jobs import HINT, STATE_LABELS, choice_state

ALIVE_EVERY = 30.0  # seconds between heartbeats while the client waits to retry


def validate_access_url(value: str) -> str:
    """The access URL rebuilt from its one parse (`https://<host>`), or a ValidationError
    saying why not: what is stored is what the client will connect to."""
    try:
        return access_url_checked(value)
    except AccessUrlRefused as exc:
        raise forms.ValidationError(str(exc)) from None


class NameMappingField(forms.CharField):
    """Lines of `dbt_name = warehouse_name`, cleaned to a dict."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{k} = {v}" for k, v in value.items())
        return value

    def to_python(self, value: Any) -> str:
        return super().to_python(self.prepare_value(value))

    def clean(self, value: Any) -> dict[str, str]:
        mapping = {}
        for line in super().clean(value).splitlines():
            if not line.strip():
                continue
            left, sep, right = (part.strip() for part in line.partition("="))
            if not sep or not left or not right:
                raise forms.ValidationError(
                    f"“{line.strip()}” is not of the form dbt_name = warehouse_name."
                )
            mapping[left] = right
        return mapping


class IdListWidget(forms.Textarea):
    """IDs typed in the textarea or ticked as checkboxes (once listed from dbt Cloud): every
    submitted value counts."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)


class IdListField(PatternListField):
    widget = IdListWidget(attrs={"rows": 2})

    def clean(self, value: Any) -> list[str]:
        ids = super().clean(value)
        wrong = [i for i in ids if not i.isdigit()]
        if wrong:
            raise forms.ValidationError(
                f"IDs are whole numbers, as in the dbt Cloud URLs: {', '.join(wrong)} is not."
            )
        return ids


class JobPickerWidget(forms.CheckboxSelectMultiple):
    """The job checkboxes under a filter box (static/js/job_picker.js: the page's CSP
    allows no inline script). Without JavaScript the box does nothing; every job stays
    listed."""

    class Media:
        js = ("js/job_picker.js",)

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        boxes = super().render(name, value, attrs, renderer)
        list_id = (attrs or {}).get("id") or f"id_{name}"
        return format_html(
            '<div class="job-picker">'
            '<input type="search" class="picker-filter" id="{}-filter" data-filters="{}" '
            'placeholder="Filter jobs by name, environment or state" aria-label="Filter jobs" '
            'autocomplete="off" hidden>'
            '<p class="picker-empty" id="{}-empty" hidden>No job matches “<span></span>”.</p>'
            "{}</div>",
            list_id,
            list_id,
            list_id,
            boxes,
        )


SCOPE_FIELDS = ("project_ids", "environment_ids", "job_ids")
SCOPE_HELP = {
    "job_ids": "None ticked: every live job (scheduled, or triggered within the last "
    "{days} days). An inactive job is read only when ticked."
}


def warehouse_choices() -> list[tuple[str, str]]:
    """The warehouse integrations by name, read each time a form is made."""
    from integrations.models import Integration

    from . import all_entries

    keys = [e.key for e in all_entries() if e.connector and e.connector.is_warehouse]
    found = Integration.objects.filter(connector__in=keys).order_by("name")
    return [(str(pk), name) for pk, name in found.values_list("pk", "name")]


class DbtCloudForm(forms.Form):
    account_id = forms.IntegerField(
        label="Account ID",
        min_value=1,
        max_value=2**63 - 1,
        help_text="The number after /accounts/ in your dbt Cloud settings URL.",
    )
    access_url = forms.CharField(
        label="Access URL",
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "https://ab123.us1.dbt.com"}),
        help_text="Account settings → Access URLs, e.g. https://ab123.us1.dbt.com",
    )
    token = forms.CharField(
        label="Service token",
        widget=forms.PasswordInput(render_value=False),
        strip=True,
        help_text="A service token with Account Viewer or Job Viewer (Read-only on Team).",
    )

    database_map = NameMappingField(
        label="Database names",
        help_text="When dbt names a database differently from the warehouse integration, one "
        "mapping per line: dbt_name = warehouse_name.",
    )
    warehouse_ids = forms.TypedMultipleChoiceField(
        label="Only warehouses",
        required=False,
        choices=warehouse_choices,
        coerce=str,
        widget=forms.CheckboxSelectMultiple,
        help_text="The warehouse integrations whose tables dbt's nodes are matched to; "
        "none ticked: all.",
    )
    description_policy = forms.ChoiceField(
        label="Descriptions",
        choices=[
            ("fill", "dbt fills empty descriptions and updates its own; people's edits win"),
            ("dbt_wins", "dbt always wins, over warehouse comments and people's edits"),
        ],
        initial="fill",
        required=False,
    )
    project_ids = IdListField(label="Only projects", help_text="dbt Cloud project IDs; empty: all.")
    environment_ids = IdListField(
        label="Only environments", help_text="Environment IDs; empty: all deployment environments."
    )
    job_ids = IdListField(label="Only jobs", help_text="Job IDs; empty: every job but CI jobs.")
    include_ci = forms.BooleanField(
        label="Include CI jobs",
        required=False,
        help_text="Their runs build into temporary schemas.",
    )
    include_development = forms.BooleanField(
        label="Include development environments", required=False
    )

    def use_stored_config(self, config: dict[str, Any]) -> None:
        self.offer_choices(config)

    def offer_choices(self, config: dict[str, Any]) -> None:
        """Offer the account's projects, environments and jobs as choices, read from the API
        with these credentials; left as typed IDs when dbt Cloud cannot be reached. IDs
        chosen before that dbt Cloud no longer lists stay offered, and say so."""
        try:
            choices = account_choices(config)
        except ConnectorError as exc:
            for name in SCOPE_FIELDS:
                self.fields[name].help_text += f" (Could not list them from dbt Cloud: {exc})"
            return
        for name, options in choices.items():
            old = self.fields[name]
            chosen = [str(v) for v in self._chosen(name, config)]
            listed = {value for value, _label in options}
            options += [(v, f"{v} (not found in dbt Cloud)") for v in chosen if v not in listed]
            help_text = SCOPE_HELP.get(name, "None ticked: all.")
            self.fields[name] = forms.TypedMultipleChoiceField(
                label=old.label,
                required=False,
                choices=options,
                coerce=str,
                widget=JobPickerWidget if name == "job_ids" else forms.CheckboxSelectMultiple,
                help_text=help_text.format(days=settings.DBT_CLOUD_ACTIVE_WINDOW_DAYS),
            )
            self.initial[name] = chosen
            if self.is_bound:  # typed "70, 71" becomes the boxes 70 and 71, ticked
                self.data = self.data.copy()
                if hasattr(self.data, "setlist"):
                    self.data.setlist(name, chosen)
                else:
                    self.data[name] = chosen
            # A form already validated (after Test connection) renders from cached bound
            # fields: drop the old field's.
            self._bound_fields_cache.pop(name, None)

    def _chosen(self, name: str, config: dict[str, Any]) -> list[str]:
        if self.is_bound:
            # Ticked boxes, or IDs typed "1, 2": the ID field's own reading of either.
            field = self.fields[name]
            return split_patterns(
                field.to_python(field.widget.value_from_datadict(self.data, {}, name))
            )
        return config.get(name) or []

    def clean_description_policy(self) -> str:
        return self.cleaned_data.get("description_policy") or "fill"

    def clean_access_url(self) -> str:
        return validate_access_url(self.cleaned_data["access_url"])


def client_for(config: dict[str, Any], **kwargs: Any) -> DbtCloudClient:
    options = {
        "timeout": settings.DBT_CLOUD_TIMEOUT,
        "connect_timeout": settings.DBT_CLOUD_CONNECT_TIMEOUT,
        "idle_timeout": settings.DBT_CLOUD_IDLE_TIMEOUT,
        "download_deadline": settings.DBT_CLOUD_DOWNLOAD_DEADLINE,
        "max_artifact_bytes": settings.DBT_CLOUD_ARTIFACT_MAX_BYTES,
        "max_attempts": settings.DBT_CLOUD_MAX_ATTEMPTS,
        "backoff": settings.DBT_CLOUD_BACKOFF,
        "max_backoff": settings.DBT_CLOUD_MAX_BACKOFF,
        "rate_limit_backoff": settings.DBT_CLOUD_RATE_LIMIT_BACKOFF,
        **kwargs,
    }
    return DbtCloudClient(
        access_url=config["access_url"],
        token=config["token"],
        account_id=config["account_id"],
        **options,
    )


def account_choices(config: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """(id, label) pairs for the form's project, environment and job pickers."""
    with client_for(config, max_attempts=1, timeout=10) as client:
        account = client.account_id
        projects = list(client.paginate(f"v3/accounts/{account}/projects/"))
        environments = [
            env
            for project in projects
            for env in client.paginate(
                f"v3/accounts/{account}/projects/{project['id']}/environments/"
            )
        ]
        # Each job's most recent completed run comes along: its state without a runs call.
        jobs = list(client.paginate(f"v2/accounts/{account}/jobs/", {"include_related": HINT}))
    names = {p["id"]: p.get("name", p["id"]) for p in projects}
    env_names = {e["id"]: e.get("name", e["id"]) for e in environments}
    since = datetime.now(UTC) - timedelta(days=settings.DBT_CLOUD_ACTIVE_WINDOW_DAYS)
    return {
        "project_ids": [(str(p["id"]), p.get("name") or str(p["id"])) for p in projects],
        "environment_ids": [
            (
                str(e["id"]),
                f"{names.get(e.get('project_id'), '?')} / {e.get('name')} ({e.get('type')})",
            )
            for e in environments
        ],
        "job_ids": [
            (str(j["id"]), job_label(j, env_names.get(j.get("environment_id"), "?"), since))
            for j in jobs
        ],
    }


def job_label(job: dict[str, Any], environment: str, since: datetime) -> str:
    """'Nightly build — Production · scheduled': the job type only when it is not the
    usual one (CI, merge), the state always."""
    job_type = job.get("job_type") or ""
    kind = f", {job_type}" if job_type not in ("", "scheduled", "other") else ""
    state = choice_state(job, since)
    shown = STATE_LABELS[state] if state else "no trigger"
    return f"{job.get('name')} — {environment}{kind} · {shown}"


def sleeping_alive(reporter: Reporter) -> Callable[[float], None]:
    """A sleep for the client's retries that tells the run it is waiting, not stuck: a
    rate-limit cooldown lasts longer than a run may stay silent before it is reaped."""

    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, ALIVE_EVERY))
            reporter.alive()

    return sleep


def test_connection(config: dict[str, Any]) -> str:
    with client_for(config, max_attempts=2, timeout=15) as client:
        account = client.account() or {}
    return f"Connected to dbt Cloud account “{account.get('name', config['account_id'])}”."


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator:
    from .dbt_cloud_runs import walk

    with client_for(config, sleep=sleeping_alive(reporter)) as client:
        yield from walk(client, config, reporter=reporter, state=state or {})


CONNECTOR = Connector(
    key="dbt_cloud",
    label="dbt Cloud",
    category=TRANSFORM,
    description="Models, tests, jobs, runs, exposures and metrics from dbt Cloud, on top of "
    "your warehouse's tables.",
    aliases=("dbt", "dbt cloud", "dbtcloud", "getdbt", "transform", "transformation"),
    form=DbtCloudForm,
    secret_fields=("token",),
    # The account ID too: the same host, but the token would be offered to another account.
    destination_fields=("access_url", "account_id"),
    requires=("warehouse",),
    extract=extract,
    test_connection=test_connection,
    driver="requests",
    driver_package="requests",
    logo="img/connectors/dbt_cloud.svg",
    extra={"progress_unit": "jobs"},  # the sync's progress counts live jobs
)
