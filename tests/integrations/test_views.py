"""The Integrations tab, server side: login, roles, gallery, the dbt guard, forms, pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from catalog.models import Table
from catalog.services import catalog_apply
from integrations.connectors.base import ColumnRecord, DatabaseRecord, TableRecord
from integrations.models import Integration, SyncRun
from tests.factories import admin_user, analyst_user, dbt_integration, postgres_integration

pytestmark = pytest.mark.django_db

PG_PASSWORD = "pg-Secret-never-shown"


@pytest.fixture
def admin_client(client):
    client.force_login(admin_user())
    return client


@pytest.fixture
def analyst_client(client):
    client.force_login(analyst_user())
    return client


@pytest.fixture
def warehouse_integration(warehouse_config):
    return postgres_integration({**warehouse_config, "password": PG_PASSWORD})


def post_data(config: dict, **extra) -> dict:
    data = {k: v for k, v in config.items()}
    data.update(extra)
    return data


# -- login and roles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/catalog/",
        "/integrations/",
        "/integrations/new/",
        "/integrations/new/postgres/",
        "/integrations/1/",
    ],
)
def test_every_page_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_roles_exist_as_groups_with_the_right_permissions():
    admin, analyst = admin_user(), analyst_user()
    assert admin.has_perm("integrations.manage_integrations")
    assert not analyst.has_perm("integrations.manage_integrations")
    assert analyst.has_perm("catalog.view_table") and analyst.has_perm(
        "integrations.view_integration"
    )


def test_login_page_logs_in_and_returns_to_the_page_asked_for(client):
    analyst_user()
    response = client.post(
        "/login/?next=/integrations/",
        {
            "username": "ann-analyst",
            "password": "pw-for-tests-1",
            "next": "/integrations/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/integrations/"


@pytest.mark.parametrize(
    "method, name, kwargs",
    [
        ("get", "integrations:connect", {"key": "postgres"}),
        ("post", "integrations:connect", {"key": "postgres"}),
        ("get", "integrations:edit", {"pk": None}),
        ("post", "integrations:edit", {"pk": None}),
        ("post", "integrations:sync", {"pk": None}),
        ("post", "integrations:schedule", {"pk": None}),
        ("get", "integrations:disconnect", {"pk": None}),
        ("post", "integrations:disconnect", {"pk": None}),
    ],
)
def test_analysts_get_403_on_every_changing_view(
    analyst_client, warehouse_integration, method, name, kwargs
):
    if "pk" in kwargs:
        kwargs = {"pk": warehouse_integration.pk}
    response = getattr(analyst_client, method)(
        reverse(name, kwargs=kwargs), {"frequency": "hourly"}
    )
    assert response.status_code == 403
    assert Integration.objects.count() == 1
    assert (
        not SyncRun.objects.exists()
        and not PeriodicTask.objects.filter(name__startswith="integration-").exists()
    )


def test_analysts_see_names_and_status_but_no_settings_or_buttons(
    analyst_client, warehouse_integration
):
    listing = analyst_client.get("/integrations/").content.decode()
    assert "warehouse" in listing and "Never synced" in listing
    assert "Sync now" not in listing and "Add integration" not in listing
    page = analyst_client.get(f"/integrations/{warehouse_integration.pk}/").content.decode()
    assert warehouse_integration.config["host"] not in page
    assert warehouse_integration.config["database"] not in page
    assert PG_PASSWORD not in page and "Disconnect" not in page


def test_superusers_count_as_admins(client, django_user_model, warehouse_config):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    assert client.get("/integrations/new/postgres/").status_code == 200


# -- gallery --------------------------------------------------------------------------------


def _cards(response, visible_only: bool = True) -> set[str]:
    cards = set()
    for group in response.context["groups"]:
        for card in group.cards:
            if card.matches or not visible_only:
                cards.add(card.key)
    return cards


@pytest.mark.parametrize(
    "query, expected",
    [
        ("dbt", {"dbt_cloud"}),
        ("DBT cloud", {"dbt_cloud"}),
        ("transform", {"dbt_cloud"}),
        ("pg", {"postgres"}),
        ("postgresql", {"postgres"}),
        ("redshift", {"redshift"}),
        ("sf", {"snowflake"}),
        ("bq", {"bigquery"}),
        ("gcp", {"bigquery"}),
        ("mariadb", {"mysql"}),
        ("warehouse", {"postgres", "redshift", "mysql", "snowflake", "bigquery"}),
        ("oracle", set()),
    ],
)
def test_gallery_search_matches_names_aliases_and_categories(admin_client, query, expected):
    response = admin_client.get("/integrations/new/", {"q": query})
    assert _cards(response) == expected
    assert _cards(response, visible_only=False) >= {"postgres", "redshift", "dbt_cloud"}
    body = response.content.decode()
    assert ('id="gallery-empty" hidden' in body) == bool(expected)


def test_gallery_groups_connectors_by_category(admin_client):
    response = admin_client.get("/integrations/new/")
    labels = [g.label for g in response.context["groups"]]
    assert labels == ["Warehouses and databases", "Data transformation"]


def test_connector_without_its_driver_says_why_it_is_unavailable(admin_client):
    from tests.support.connectors import registered

    with registered("nodriver", "tests.support.missing_driver_connector"):
        response = admin_client.get("/integrations/new/")
        card = next(c for g in response.context["groups"] for c in g.cards if c.key == "nodriver")
        assert not card.enabled and "pip install no-such-driver" in card.disabled_reason
        assert "pip install no-such-driver" in response.content.decode()
        assert admin_client.get("/integrations/new/nodriver/").status_code == 404


# -- the dbt guard ------------------------------------------------------------------------


def test_dbt_cloud_card_is_disabled_until_a_warehouse_exists(admin_client, warehouse_config):
    response = admin_client.get("/integrations/new/")
    card = next(c for g in response.context["groups"] for c in g.cards if c.key == "dbt_cloud")
    assert not card.enabled and card.needs_warehouse
    assert "Connect a warehouse or relational database first" in card.disabled_reason
    body = response.content.decode()
    assert 'class="connect-warehouse"' in body
    assert reverse("integrations:connect", args=["dbt_cloud"]) not in body

    postgres_integration(warehouse_config)
    response = admin_client.get("/integrations/new/")
    card = next(c for g in response.context["groups"] for c in g.cards if c.key == "dbt_cloud")
    assert card.enabled
    assert reverse("integrations:connect", args=["dbt_cloud"]) in response.content.decode()


def test_dbt_cloud_form_is_replaced_by_the_explanation_and_a_post_is_refused(admin_client):
    page = admin_client.get("/integrations/new/dbt_cloud/")
    assert page.status_code == 200
    assert 'id="requirement-missing"' in page.content.decode() and "form" not in page.context
    refused = admin_client.post(
        "/integrations/new/dbt_cloud/",
        {
            "name": "dbt",
            "account_id": "1",
            "access_url": "https://ab123.us1.dbt.com",
            "token": "t",
        },
    )
    assert refused.status_code == 403
    assert not Integration.objects.exists()


# -- connect forms ------------------------------------------------------------------------


def test_test_connection_reports_success_without_saving(admin_client, warehouse_config):
    response = admin_client.post(
        "/integrations/new/postgres/", post_data(warehouse_config, name="wh", _test="1")
    )
    assert response.status_code == 200
    assert response.context["test_result"].startswith("Connected to PostgreSQL ")
    assert not Integration.objects.exists()


def test_failed_connection_test_shows_the_reason_and_keeps_input_but_not_the_password(
    admin_client, warehouse_config
):
    data = post_data(
        warehouse_config, name="my-wh", database="missing_db", password="typed-Secret-1"
    )
    response = admin_client.post("/integrations/new/postgres/", data)
    body = response.content.decode()
    assert response.status_code == 200 and not Integration.objects.exists()
    assert "Connection test failed: Database &#x27;missing_db&#x27; does not exist" in body
    assert 'value="my-wh"' in body and 'value="missing_db"' in body
    assert "typed-Secret-1" not in body


def test_field_errors_appear_beside_their_fields(admin_client, warehouse_config):
    response = admin_client.post(
        "/integrations/new/postgres/", post_data(warehouse_config, name="", port="99999")
    )
    assert set(response.context["form"].errors) == {"name", "port"}
    body = response.content.decode()
    assert 'id="id_port-errors"' in body and 'id="id_name-errors"' in body


def test_connecting_saves_and_leads_to_the_integration_page(admin_client, warehouse_config):
    response = admin_client.post(
        "/integrations/new/postgres/", post_data(warehouse_config, name="wh")
    )
    integration = Integration.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/integrations/{integration.pk}/"
    )
    assert integration.created_by.username == "alice-admin"
    assert integration.config["database"] == warehouse_config["database"]


def test_edit_form_shows_a_secret_is_set_never_its_value_and_blank_keeps_it(
    admin_client, warehouse_integration, warehouse_config
):
    page = admin_client.get(f"/integrations/{warehouse_integration.pk}/edit/").content.decode()
    assert "A value is stored. Leave this blank to keep it." in page
    assert PG_PASSWORD not in page
    response = admin_client.post(
        f"/integrations/{warehouse_integration.pk}/edit/",
        post_data(warehouse_config, name="renamed", password=""),
    )
    assert response.status_code == 302
    warehouse_integration.refresh_from_db()
    assert (
        warehouse_integration.name == "renamed"
        and warehouse_integration.config["password"] == PG_PASSWORD
    )


def test_no_page_renders_a_stored_secret(admin_client, warehouse_integration):
    dbt = dbt_integration(token="dbtc_Never_Rendered")
    for url in [
        "/integrations/",
        f"/integrations/{warehouse_integration.pk}/",
        f"/integrations/{warehouse_integration.pk}/edit/",
        f"/integrations/{dbt.pk}/",
        f"/integrations/{dbt.pk}/edit/",
        f"/integrations/{warehouse_integration.pk}/disconnect/",
    ]:
        body = admin_client.get(url).content.decode()
        assert PG_PASSWORD not in body and "dbtc_Never_Rendered" not in body, url


# -- integration page, sync, schedule ---------------------------------------------------------


def test_integration_page_shows_settings_history_counts_and_warnings(
    admin_client, warehouse_integration
):
    run = SyncRun.objects.create(
        integration=warehouse_integration,
        status=SyncRun.Status.FAILED,
        error="Database 'x' does not exist",
        warnings=["Foreign key a.b references c.d"],
    )
    body = admin_client.get(f"/integrations/{warehouse_integration.pk}/").content.decode()
    assert warehouse_integration.config["host"] in body and "set (hidden)" in body
    assert f'data-run="{run.pk}"' in body and "Database &#x27;x&#x27; does not exist" in body
    assert "Foreign key a.b references c.d" in body


def test_sync_now_queues_a_run_and_shows_progress(
    admin_client, warehouse_integration, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(f"/integrations/{warehouse_integration.pk}/sync/", follow=True)
    run = SyncRun.objects.get()
    assert len(callbacks) == 1 and run.triggered_by.username == "alice-admin"
    body = response.content.decode()
    assert f"Sync #{run.pk} queued." in body and 'id="sync-progress"' in body
    status = admin_client.get(
        f"/integrations/{warehouse_integration.pk}/runs/{run.pk}/status/"
    ).json()
    assert status == {
        "id": run.pk,
        "status": "queued",
        "status_label": "Queued",
        "progress_done": 0,
        "progress_total": 0,
        "percent": 0,
        "finished": False,
        "error": "",
    }


@pytest.mark.parametrize(
    "data, cron",
    [
        ({"frequency": "hourly"}, "0 * * * *"),
        ({"frequency": "daily", "time": "06:30"}, "30 6 * * *"),
        ({"frequency": "cron", "cron": " 15  4 * * 1-5 "}, "15 4 * * 1-5"),
    ],
)
def test_schedule_creates_a_beat_task_and_shows_the_next_sync(
    admin_client, warehouse_integration, data, cron
):
    admin_client.post(f"/integrations/{warehouse_integration.pk}/schedule/", data)
    warehouse_integration.refresh_from_db()
    assert warehouse_integration.schedule == cron
    task = PeriodicTask.objects.get(name=f"integration-{warehouse_integration.pk}-sync")
    minute, hour, *_ = cron.split()
    assert (task.crontab.minute, task.crontab.hour) == (minute, hour)
    assert (
        task.task == "integrations.tasks.sync_scheduled_task"
        and task.args == f"[{warehouse_integration.pk}]"
    )
    listing = admin_client.get("/integrations/").content.decode()
    assert "not scheduled" not in listing

    admin_client.post(f"/integrations/{warehouse_integration.pk}/schedule/", {"frequency": "off"})
    assert not PeriodicTask.objects.filter(name__startswith="integration-").exists()


def test_a_bad_cron_expression_is_refused_with_a_message(admin_client, warehouse_integration):
    response = admin_client.post(
        f"/integrations/{warehouse_integration.pk}/schedule/",
        {"frequency": "cron", "cron": "61 * * *"},
        follow=True,
    )
    assert "five fields" in response.content.decode()
    assert not PeriodicTask.objects.filter(name__startswith="integration-").exists()


def test_scheduled_task_starts_a_scheduled_sync(
    warehouse_integration, django_capture_on_commit_callbacks
):
    from integrations.tasks import sync_scheduled_task

    with django_capture_on_commit_callbacks():
        assert sync_scheduled_task(warehouse_integration.pk) == "queued"
        assert sync_scheduled_task(warehouse_integration.pk) == "already active"
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.SCHEDULE


# -- disconnect ---------------------------------------------------------------------------


def _fill_catalog(integration):
    run = SyncRun.objects.create(integration=integration, status=SyncRun.Status.SUCCEEDED)
    catalog_apply(
        integration=integration,
        run=run,
        records=[
            DatabaseRecord("db"),
            TableRecord("db", "s", "t", "table"),
            ColumnRecord("db", "s", "t", "c", "int", 1),
        ],
    )


def test_disconnect_page_says_what_goes_and_deletes_the_catalog_objects(
    admin_client, warehouse_integration
):
    _fill_catalog(warehouse_integration)
    page = admin_client.get(
        f"/integrations/{warehouse_integration.pk}/disconnect/"
    ).content.decode()
    assert "1 schemas, 1 tables and" in page and "1 sync run" in page
    response = admin_client.post(f"/integrations/{warehouse_integration.pk}/disconnect/")
    assert response.status_code == 302
    assert not Integration.objects.exists() and not Table.objects.exists()


def test_disconnecting_the_last_warehouse_needs_confirmation_for_dbt_too(
    admin_client, warehouse_integration
):
    dbt = dbt_integration()
    page = admin_client.get(
        f"/integrations/{warehouse_integration.pk}/disconnect/"
    ).content.decode()
    assert 'id="dependents-warning"' in page and dbt.name in page

    refused = admin_client.post(f"/integrations/{warehouse_integration.pk}/disconnect/")
    assert (
        refused.status_code == 200
        and "confirm that they are disconnected too" in refused.content.decode()
    )
    assert Integration.objects.count() == 2

    admin_client.post(
        f"/integrations/{warehouse_integration.pk}/disconnect/", {"disconnect_dependents": "on"}
    )
    assert not Integration.objects.exists()


def test_another_warehouse_keeps_dbt_connected(
    admin_client, warehouse_integration, warehouse_config
):
    other = postgres_integration(warehouse_config, name="second")
    dbt_integration()
    page = admin_client.get(
        f"/integrations/{warehouse_integration.pk}/disconnect/"
    ).content.decode()
    assert 'id="dependents-warning"' not in page
    admin_client.post(f"/integrations/{warehouse_integration.pk}/disconnect/")
    assert set(Integration.objects.values_list("name", flat=True)) == {other.name, "dbt"}


@pytest.mark.parametrize(
    "next_url",
    [
        "javascript:alert(document.domain)",
        "https://evil.com/",
        "//evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "http://testserver/integrations/",  # this very host, but not a path
        " /integrations/",
        "",
    ],
)
def test_sync_now_goes_back_only_to_a_path_of_this_site(
    admin_client, warehouse_integration, django_capture_on_commit_callbacks, next_url
):
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            f"/integrations/{warehouse_integration.pk}/sync/", {"next": next_url}
        )
    assert response.status_code == 302
    assert response["Location"] == f"/integrations/{warehouse_integration.pk}/"


def test_sync_now_goes_back_to_the_list_it_was_clicked_on(
    admin_client, warehouse_integration, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            f"/integrations/{warehouse_integration.pk}/sync/", {"next": "/integrations/?q=a"}
        )
    assert response.status_code == 302 and response["Location"] == "/integrations/?q=a"


WHERE = {"host": "db-7.internal.example", "port": 6543, "user": "etl_reader", "database": "shop"}


def _connect_error(message: str) -> str:
    from integrations.connectors import postgres

    exc = Exception(f'connection to server at "{WHERE["host"]}", port 6543 failed: {message}')
    return str(postgres.describe_connect_error(exc, WHERE))


@pytest.mark.parametrize(
    "error, reason",
    [
        (
            lambda: _connect_error('FATAL:  password authentication failed for user "etl_reader"'),
            "Authentication failed.",
        ),
        (
            lambda: _connect_error('FATAL:  permission denied for database "shop"'),
            "Permission denied.",
        ),
        (
            lambda: _connect_error("Connection refused") + " (gave up after 4 attempts)",
            "Could not connect to the warehouse.",
        ),
        (
            lambda: (
                "The sync stopped on an unexpected error (KeyError: 'db-7.internal.example:6543"
                " etl_reader'). The previous catalog is unchanged; the worker log has the details."
            ),
            "The sync stopped on an unexpected error.",
        ),
    ],
    ids=["password", "connect privilege", "refused", "unexpected"],
)
def test_analysts_see_a_short_reason_for_a_failed_sync_and_admins_the_whole_error(
    client, warehouse_integration, error, reason
):
    text = error()
    named = [part for part in ("db-7.internal.example", "6543", "etl_reader") if part in text]
    assert named[:2] == ["db-7.internal.example", "6543"]
    run = SyncRun.objects.create(
        integration=warehouse_integration, status=SyncRun.Status.FAILED, error=text
    )
    page = f"/integrations/{warehouse_integration.pk}/"
    status = f"/integrations/{warehouse_integration.pk}/runs/{run.pk}/status/"

    client.force_login(analyst_user())
    seen = client.get(page).content.decode() + client.get(status).content.decode()
    assert f"{reason} An admin can see the details." in seen
    for part in ("db-7.internal.example", "6543", "etl_reader"):
        assert part not in seen

    client.force_login(admin_user())
    seen = client.get(page).content.decode()
    assert all(part in seen for part in named)
    assert client.get(status).json()["error"] == text
