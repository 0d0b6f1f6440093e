"""Google BigQuery: projects, datasets, tables, views, materialized views, external tables,
snapshots, columns (nested RECORD fields flattened as `a.b.c`), descriptions, row counts and
unenforced primary and foreign keys, read through the BigQuery API with a service account.

Each configured project becomes a DatabaseRecord and each of its datasets a SchemaRecord, so
`acme-analytics.sales.orders` is database, schema and table as in BigQuery itself. Names are
case sensitive.

Listing is cheap (a page per hundreds of datasets or tables); the details of a table (its
schema, row count, view query) take one call each, so progress is reported per table.

The service account needs BigQuery Metadata Viewer (roles/bigquery.metadataViewer) on the
projects or datasets; it never reads data and runs no jobs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .base import (
    WAREHOUSE,
    ColumnRecord,
    ColumnRef,
    Connector,
    ConnectorError,
    DatabaseRecord,
    PatternListField,
    Record,
    Reporter,
    SchemaRecord,
    TableRecord,
    TransientConnectorError,
    name_included,
)

logger = logging.getLogger(__name__)

# Seconds for one HTTP call, and for all the client's retries of one call (it retries 5xx,
# rate limits and dropped connections itself; its default of ten minutes would hold a worker).
REQUEST_TIMEOUT = 30.0
RETRY_DEADLINE = 60.0
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"

TABLE_TYPES = {
    "TABLE": "table",
    "VIEW": "view",
    "MATERIALIZED_VIEW": "materialized_view",
    "EXTERNAL": "external_table",
    # A snapshot is a read-only copy of a table at a point in time: a table to its readers.
    "SNAPSHOT": "table",
}

# Project ids: lowercase letters, digits and hyphens; old ones may carry a domain
# ("example.com:analytics").
PROJECT_ID = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]*[a-z0-9]$")
ROLES_HINT = (
    "check the service account's roles: BigQuery Metadata Viewer "
    "(roles/bigquery.metadataViewer) on the project or its datasets"
)


class ProjectListField(PatternListField):
    """Exact project ids, one per line or comma separated."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", True)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        projects = super().clean(value)
        bad = [p for p in projects if not PROJECT_ID.match(p)]
        if bad:
            raise ValidationError(
                "Not a project id: %(bad)s. Give ids (my-project-123), not names or numbers.",
                params={"bad": ", ".join(bad)},
            )
        return list(dict.fromkeys(projects))


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value back, as PasswordInput(render_value=False)."""

    def format_value(self, value: Any) -> None:
        return None


def parse_service_account_key(text: str) -> dict[str, Any]:
    """The key file's fields, or ValidationError saying what is wrong without quoting it."""
    try:
        info = json.loads(text)
    except ValueError:
        raise ValidationError(
            "This is not JSON: paste the whole key file downloaded from the Google Cloud "
            "console (IAM & Admin > Service accounts > Keys)."
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValidationError(
            'This is not a service account key: its "type" must be "service_account".'
        )
    missing = [k for k in ("client_email", "private_key") if not info.get(k)]
    if missing:
        raise ValidationError(
            "The key lacks %(missing)s: paste the whole key file.",
            params={"missing": " and ".join(missing)},
        )
    return info


def service_account_credentials(info: dict[str, Any]):
    from google.oauth2 import service_account

    # Key files always carry token_uri; a hand-trimmed one may not, and it has one value.
    return service_account.Credentials.from_service_account_info(
        {**info, "token_uri": info.get("token_uri") or DEFAULT_TOKEN_URI}
    )


class BigQueryForm(forms.Form):
    projects = ProjectListField(
        label="Project ids",
        help_text="The projects whose datasets to catalogue, by id (my-project-123), one per line.",
    )
    service_account_json = forms.CharField(
        label="Service account key (JSON)",
        widget=SecretTextarea(attrs={"rows": 4}),
        help_text="The key file of a service account with BigQuery Metadata Viewer on the "
        "projects. It is stored encrypted and never shown again.",
    )
    dataset_include = PatternListField(
        help_text="Datasets to read, as glob patterns (analytics_*), one per line. Empty: all."
    )
    dataset_exclude = PatternListField(help_text="Datasets to skip, as glob patterns.")
    location = forms.CharField(
        max_length=64,
        required=False,
        help_text="Only datasets in this location (US, EU, europe-west1). Empty: all.",
    )

    def clean_service_account_json(self) -> str:
        text = self.cleaned_data.get("service_account_json") or ""
        if not text.strip():
            return ""  # blank while editing keeps the stored key (integrations.forms)
        info = parse_service_account_key(text)
        try:
            service_account_credentials(info)
        except (ValueError, TypeError):
            raise ValidationError(
                "The key's private_key could not be read: paste the key file unchanged."
            ) from None
        return text.strip()

    def clean_location(self) -> str:
        return (self.cleaned_data.get("location") or "").strip()


def make_client(config: dict[str, Any]):
    from google.cloud import bigquery

    projects = config.get("projects") or []
    kwargs: dict[str, Any] = {"project": projects[0] if projects else None}
    if config.get("location"):
        kwargs["location"] = config["location"]
    if config.get("api_endpoint"):
        # Set from code only (tests, an emulator): never from the form, as it sends requests
        # to any address without credentials.
        from google.auth.credentials import AnonymousCredentials

        kwargs["client_options"] = {"api_endpoint": config["api_endpoint"]}
        kwargs["credentials"] = AnonymousCredentials()
    else:
        try:
            info = parse_service_account_key(config.get("service_account_json") or "")
            kwargs["credentials"] = service_account_credentials(info)
        except (ValidationError, ValueError, TypeError):
            raise ConnectorError(
                "The stored service account key cannot be read: paste the key file again."
            ) from None
    return bigquery.Client(**kwargs)


def describe_api_error(exc: Exception, *, what: str) -> ConnectorError:
    """Turn a client error into a message an admin can act on. The API's messages name the
    project, dataset and service account email, never the key."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    if isinstance(exc, api.RetryError) and exc.cause is not None:
        exc = exc.cause
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if message.startswith("GET ") and ": " in message:
        message = message.split(": ", 1)[1]  # "GET https://...?prettyPrint=false: Not found"
    if isinstance(exc, auth.RefreshError):
        return ConnectorError(
            f"Google refused the service account key while reading {what}: the key may have "
            "been deleted or the account disabled; create a new key and paste it again."
        )
    if isinstance(exc, auth.TransportError):
        return TransientConnectorError(f"Could not reach Google to authenticate ({what}).")
    if isinstance(exc, (api.Unauthorized, api.Forbidden)):
        return ConnectorError(f"Access to {what} was denied ({message}): {ROLES_HINT}.")
    if isinstance(exc, api.NotFound):
        return ConnectorError(
            f"{what[0].upper()}{what[1:]} was not found ({message}): check the project id and "
            "that the BigQuery API is enabled in it."
        )
    if isinstance(exc, (api.ServerError, api.TooManyRequests, api.RetryError)):
        return TransientConnectorError(f"BigQuery failed while reading {what} ({message}).")
    if isinstance(exc, api.GoogleAPICallError):
        return ConnectorError(f"BigQuery refused to read {what} ({message}).")
    # requests' ConnectionError and Timeout, and anything else on the way.
    return TransientConnectorError(f"Could not reach BigQuery while reading {what} ({message}).")


def api_errors() -> tuple[type[Exception], ...]:
    """What the client raises: its API errors, auth errors and requests' network errors."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    return (api.GoogleAPIError, auth.GoogleAuthError, requests.RequestException)


@contextmanager
def reading(what: str):
    try:
        yield
    except api_errors() as exc:
        raise describe_api_error(exc, what=what) from None


def call_options() -> dict[str, Any]:
    from google.cloud.bigquery.retry import DEFAULT_RETRY

    return {"retry": DEFAULT_RETRY.with_timeout(RETRY_DEADLINE), "timeout": REQUEST_TIMEOUT}


def list_datasets(client, config: dict[str, Any], project: str) -> list[Any]:
    """The project's datasets with their details, patterns and location applied."""
    include = config.get("dataset_include") or []
    exclude = config.get("dataset_exclude") or []
    location = (config.get("location") or "").lower()
    with reading(f"the datasets of project '{project}'"):
        items = list(client.list_datasets(project, **call_options()))
    datasets = []
    for item in items:
        if not name_included(item.dataset_id, include=include, exclude=exclude):
            continue
        with reading(f"dataset '{project}.{item.dataset_id}'"):
            dataset = client.get_dataset(item.reference, **call_options())
        if location and (dataset.location or "").lower() != location:
            continue
        datasets.append(dataset)
    return datasets


def test_connection(config: dict[str, Any]) -> str:
    client = make_client(config)
    counts = [len(list_datasets(client, config, p)) for p in config.get("projects") or []]
    projects = len(counts)
    return (
        f"Connected to BigQuery; {sum(counts)} datasets readable in {projects} "
        f"project{'s' if projects != 1 else ''}."
    )


def extract(
    config: dict[str, Any], *, reporter: Reporter, state: dict[str, Any] | None = None
) -> Iterator[Record]:
    client = make_client(config)
    # Everything is listed first, so that progress counts against the real total.
    tables: list[Any] = []
    for project in config.get("projects") or []:
        yield DatabaseRecord(name=project)
        for dataset in list_datasets(client, config, project):
            yield SchemaRecord(
                database=project, name=dataset.dataset_id, description=dataset.description or ""
            )
            try:
                with reading(f"the tables of dataset '{project}.{dataset.dataset_id}'"):
                    tables.extend(client.list_tables(dataset.reference, **call_options()))
            except TransientConnectorError:
                raise
            except ConnectorError as exc:
                # The account may read some datasets and not others: keep what the catalog has.
                reporter.warning(str(exc))
                reporter.skipped(project, dataset.dataset_id)

    reporter.progress(0, len(tables))
    for done, item in enumerate(tables, start=1):
        yield from extract_table(client, item, reporter=reporter)
        reporter.progress(done, len(tables))


def extract_table(client, item, *, reporter: Reporter) -> Iterator[Record]:
    from google.api_core import exceptions as api

    path = f"{item.project}.{item.dataset_id}.{item.table_id}"
    try:
        table = client.get_table(item.reference, **call_options())
    except api.NotFound:
        return  # dropped since the listing
    except (api.Forbidden, api.Unauthorized) as exc:
        reporter.warning(f"Table {path} cannot be read ({exc.message}): {ROLES_HINT}.")
        return
    except api_errors() as exc:
        raise describe_api_error(exc, what=f"table '{path}'") from None

    kind = TABLE_TYPES.get(table.table_type or "TABLE")
    if kind is None:
        reporter.warning(f"Table {path} is of an unknown type {table.table_type!r}: skipped.")
        return
    definition = ""
    if table.table_type == "VIEW":
        definition = table.view_query or ""
    elif table.table_type == "MATERIALIZED_VIEW":
        definition = table.mview_query or ""
    yield TableRecord(
        database=table.project,
        schema=table.dataset_id,
        name=table.table_id,
        kind=kind,
        description=table.description or "",
        row_estimate=None if table.table_type == "VIEW" else table.num_rows,
        last_altered=table.modified,
        definition=definition,
        tags=tuple(f"{k}:{v}" if v else k for k, v in sorted((table.labels or {}).items())),
        properties=table_properties(table),
    )
    primary, foreign = table_keys(table)
    for ordinal, (name, field, data_type) in enumerate(flatten(table.schema), start=1):
        yield ColumnRecord(
            database=table.project,
            schema=table.dataset_id,
            table=table.table_id,
            name=name,
            data_type=data_type,
            ordinal=ordinal,
            nullable=(field.mode or "NULLABLE").upper() != "REQUIRED",
            default=field.default_value_expression or "",
            description=field.description or "",
            is_primary_key=name in primary,
            foreign_key=foreign.get(name),
        )


def column_type(field) -> str:
    """INTEGER, STRING(40), NUMERIC(10, 2), RECORD; ARRAY<...> for a REPEATED field."""
    data_type = (field.field_type or "").upper()
    if field.precision is not None:
        scale = f", {field.scale}" if field.scale is not None else ""
        data_type = f"{data_type}({field.precision}{scale})"
    elif field.max_length is not None:
        data_type = f"{data_type}({field.max_length})"
    if (field.mode or "").upper() == "REPEATED":
        data_type = f"ARRAY<{data_type}>"
    return data_type


def flatten(fields, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """(dotted name, field, type) depth first: a RECORD, then its fields as `parent.child`."""
    for field in fields or ():
        name = f"{prefix}{field.name}"
        yield name, field, column_type(field)
        if field.fields:
            yield from flatten(field.fields, prefix=f"{name}.")


def table_keys(table) -> tuple[set[str], dict[str, ColumnRef]]:
    """BigQuery's primary and foreign keys are declared, not enforced: they still say what
    the modeller meant."""
    constraints = table.table_constraints
    if constraints is None:
        return set(), {}
    primary = set(constraints.primary_key.columns) if constraints.primary_key else set()
    foreign: dict[str, ColumnRef] = {}
    for key in constraints.foreign_keys or ():
        ref = key.referenced_table
        for pair in key.column_references or ():
            foreign.setdefault(
                pair.referencing_column,
                ColumnRef(ref.project, ref.dataset_id, ref.table_id, pair.referenced_column),
            )
    return primary, foreign


CONNECTOR = Connector(
    key="bigquery",
    label="Google BigQuery",
    category=WAREHOUSE,
    description="Datasets, tables, views, nested columns and descriptions from Google "
    "BigQuery projects.",
    aliases=("bq", "bigquery", "gcp", "google"),
    form=BigQueryForm,
    secret_fields=("service_account_json",),
    # None: the key never leaves this server. A token signed with it goes to the token_uri
    # written in the key itself, and the API calls to Google's endpoint (api_endpoint is set
    # from code only, without credentials). Projects choose what the key reads, not where
    # it goes; what it may read is the projects' owners' IAM decision.
    destination_fields=(),
    extract=extract,
    test_connection=test_connection,
    driver="google.cloud.bigquery",
    driver_package="google-cloud-bigquery",
    identifier_case="sensitive",
    logo="img/connectors/bigquery.svg",
)


def table_properties(table) -> dict[str, Any]:
    """Partitioning, clustering and size, as BigQuery reports them."""
    properties: dict[str, Any] = {}
    partitioning = table.time_partitioning
    if partitioning is not None:
        properties["partitioning"] = {
            "type": partitioning.type_,
            "field": partitioning.field or "_PARTITIONTIME",
        }
    elif table.range_partitioning is not None:
        properties["partitioning"] = {"type": "RANGE", "field": table.range_partitioning.field}
    if table.clustering_fields:
        properties["clustering"] = list(table.clustering_fields)
    if table.num_bytes is not None:
        properties["bytes"] = table.num_bytes
    return properties
