"""The short reason analysts see for a failed sync, derived from the error a connector wrote."""

from __future__ import annotations

import pytest

from integrations.models import SyncRun
from integrations.sync_errors import FALLBACK, sync_error_for, sync_error_reason
from tests.factories import dbt_integration, postgres_integration

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "error, reason",
    [
        (
            "Authentication failed for user 'bob' on h:5432: check the user name and password.",
            "Authentication failed",
        ),
        (
            "Snowflake refused the key pair of user 'bob' on account 'xy123': check that ...",
            "Authentication failed",
        ),
        (
            "dbt Cloud refused the token (Invalid token). Check the service token, and that ...",
            "Authentication failed",
        ),
        (
            "The user 'bob' may not connect to database 'shop' on h:5432: grant it the CONNECT ...",
            "Permission denied",
        ),
        (
            "The user 'bob' lacks a privilege the catalog needs: permission denied for schema x",
            "Permission denied",
        ),
        (
            "Access to dataset p.d was denied (403 Forbidden): grant the service account ...",
            "Permission denied",
        ),
        (
            "Database 'shop' does not exist on h:5432: check the database name.",
            "Something the settings name was not found",
        ),
        (
            "Could not connect to h:5432 (Connection refused): check the host, the port and that"
            " the server accepts connections from this machine. (gave up after 4 attempts)",
            "Could not connect to the warehouse",
        ),
        (
            "Unknown host 'db.nowhere.example': check the host name.",
            "Could not connect to the warehouse",
        ),
        ("Could not connect to h:5432 (timeout expired): check the host ...", "Timed out"),
        (
            "The connection to h:3306 was lost while reading the catalog: (2013, 'Lost ...')",
            "The connection to the warehouse was lost",
        ),
        (
            "The worker running this sync stopped answering 4 times (killed or out of memory?).",
            "The worker running the sync stopped",
        ),
        (
            "The sync stopped on an unexpected error (KeyError: 'h'). The previous catalog is ...",
            "The sync stopped on an unexpected error",
        ),
        ("Something nobody foresaw on h:5432 for bob", FALLBACK),
    ],
)
def test_a_warehouse_error_gets_its_category(warehouse_config, error, reason):
    run = SyncRun(integration=postgres_integration(warehouse_config), status="failed", error=error)
    assert sync_error_reason(run) == f"{reason}. An admin can see the details."


def test_a_dbt_cloud_error_names_dbt_cloud_not_the_warehouse():
    run = SyncRun(
        integration=dbt_integration(),
        status="failed",
        error="dbt Cloud at https://ab123.us1.dbt.com did not answer (ConnectTimeout) after 5 "
        "attempts: check the access URL and the network.",
    )
    assert sync_error_reason(run) == "Timed out. An admin can see the details."
    run.error = "manifest.json of dbt Cloud run 7 is not valid JSON (truncated download?): x"
    assert sync_error_reason(run) == (
        "Could not read what dbt Cloud sent. An admin can see the details."
    )


def test_a_run_being_retried_says_so_and_a_run_without_error_has_no_reason(warehouse_config):
    integration = postgres_integration(warehouse_config)
    retrying = SyncRun(
        integration=integration,
        status="queued",
        error="Attempt 1 failed, retrying: Could not connect to h:5432 (Connection refused)",
    )
    assert sync_error_reason(retrying) == (
        "Could not connect to the warehouse; it will be retried. An admin can see the details."
    )
    assert sync_error_reason(SyncRun(integration=integration, status="succeeded")) == ""


def test_admins_get_the_whole_error(warehouse_config):
    run = SyncRun(integration=postgres_integration(warehouse_config), error="Unknown host 'h'.")
    assert sync_error_for(run, full=True) == "Unknown host 'h'."
    assert "'h'" not in sync_error_for(run, full=False)
