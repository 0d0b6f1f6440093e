"""A stored secret goes only where it was typed for: when the host, port, SSL mode, account or
access URL of an integration changes, each secret must be typed again, whether the change comes
from the edit form (*Test connection* or *Save*) or straight through the service. Shown against
a fake PostgreSQL server that asks for the password in clear and against a second stand-in dbt
Cloud, and for every connector's declared destination fields."""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pymysql
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations import connectors
from integrations.connectors import all_entries
from integrations.models import Integration
from integrations.services import integration_update, integration_update_test
from tests.factories import admin_user, dbt_cloud_account
from tests.support.dbt_cloud_standin import DbtCloudStandin
from tests.support.password_capturing_mysql import PasswordCapturingMySQL
from tests.support.password_capturing_pg import PasswordCapturingPostgres

pytestmark = pytest.mark.django_db

PG_STORED = "pg-Stored-Secret-1"
NOT_SENT = "the stored one is not sent to a new server."


def retype_message(changed: str, secret: str = "password") -> str:
    return f"The {changed} changed: type the {secret} again; {NOT_SENT}"


@pytest.fixture
def admin_client(client):
    client.force_login(admin_user())
    return client


def edit_url(integration: Integration) -> str:
    return reverse("integrations:edit", args=[integration.pk])


def post_data(integration: Integration, **changes) -> dict:
    """The edit form as its page shows it (secrets blank), with `changes` typed in."""
    data: dict = {"name": integration.name}
    for key, value in integration.public_config().items():
        if isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list):
            if value:
                data[key] = "\n".join(value)
        elif isinstance(value, dict):
            data[key] = "\n".join(f"{k} = {v}" for k, v in value.items())
        elif value is not None:
            data[key] = str(value)
    data.update(changes)
    return data


# -- the fake server really takes passwords -------------------------------------------------


def test_the_fake_postgres_server_captures_the_password_psycopg_sends():
    with PasswordCapturingPostgres(host="127.0.0.2") as fake:
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(
                host=fake.host,
                port=fake.port,
                dbname="shop",
                user="reader",
                password="sent-in-Clear-1",
                sslmode="prefer",
                connect_timeout=5,
            )
    assert fake.passwords == ["sent-in-Clear-1"]
    assert fake.startups == [{"user": "reader", "database": "shop"}]


# -- PostgreSQL against the fake server ------------------------------------------------------


@pytest.fixture(params=["host", "port", "host and port"])
def moved(request):
    """(what changed, the fake server to point at, the integration stored before)."""
    changed = request.param
    fake = PasswordCapturingPostgres(host="127.0.0.2" if "host" in changed else "127.0.0.1")
    stored = Integration.objects.create(
        connector="postgres",
        name="warehouse",
        config={
            "host": "127.0.0.1",
            # Only the host moves: the stored port is the fake's, on another address.
            "port": fake.port if changed == "host" else 5432,
            "database": "shop",
            "user": "reader",
            "password": PG_STORED,
            "sslmode": "prefer",
            "schema_include": [],
            "schema_exclude": [],
        },
    )
    with fake:
        yield changed, fake, stored


@pytest.mark.parametrize("button", ["_test", "_save"])
def test_edit_form_never_sends_the_stored_password_to_a_new_postgres_server(
    admin_client, moved, button
):
    changed, fake, integration = moved
    before = dict(integration.config)
    response = admin_client.post(
        edit_url(integration),
        post_data(integration, host=fake.host, port=str(fake.port), password="", **{button: "1"}),
    )

    assert fake.passwords == [] and fake.connections == 0
    assert response.status_code == 200
    assert response.context["form"].errors["password"] == [retype_message(changed)]
    body = response.content.decode()
    assert retype_message(changed) in body
    assert PG_STORED not in body
    assert f'value="{fake.host}"' in body and f'value="{fake.port}"' in body  # kept as typed
    integration.refresh_from_db()
    assert integration.config == before


def test_a_password_typed_again_goes_to_the_new_server_and_only_it(admin_client, moved):
    changed, fake, integration = moved
    response = admin_client.post(
        edit_url(integration),
        post_data(integration, host=fake.host, port=str(fake.port), password="Typed-Anew-2"),
    )

    assert response.status_code == 200
    assert "Connection test failed: Authentication failed" in response.content.decode()
    assert fake.passwords == ["Typed-Anew-2"]
    assert "Typed-Anew-2" not in response.content.decode()
    integration.refresh_from_db()
    assert integration.config["password"] == PG_STORED


@pytest.mark.parametrize("test_connection", [True, False])
def test_the_service_refuses_a_stored_password_for_a_new_server_before_connecting(
    moved, test_connection
):
    # Without a connection test the next sync would send it: refused all the same.
    changed, fake, integration = moved
    before = dict(integration.config)
    typed = {**integration.public_config(), "host": fake.host, "port": fake.port}

    with pytest.raises(ValidationError) as refused:
        integration_update(integration=integration, config=typed, test_connection=test_connection)

    assert fake.passwords == [] and fake.connections == 0
    assert refused.value.message_dict == {"password": [retype_message(changed)]}
    integration.refresh_from_db()
    assert integration.config == before


def test_the_services_connection_test_refuses_it_too(moved):
    changed, fake, integration = moved
    typed = {**integration.public_config(), "host": fake.host, "port": fake.port, "password": ""}

    with pytest.raises(ValidationError) as refused:
        integration_update_test(integration=integration, config=typed)

    assert fake.passwords == [] and fake.connections == 0
    assert refused.value.message_dict == {"password": [retype_message(changed)]}


def test_the_edit_form_says_up_front_which_changes_need_the_password_again(admin_client, moved):
    _changed, _fake, integration = moved
    body = admin_client.get(edit_url(integration)).content.decode()
    assert (
        "A value is stored. Leave this blank to keep it. Changing the host, port or SSL mode "
        "requires typing the password again."
    ) in body
    assert PG_STORED not in body


def test_django_admin_cannot_change_where_the_secrets_go(client, django_user_model, moved):
    # The admin edits the name only: settings change through the service, on the edit form.
    _changed, fake, integration = moved
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    before = dict(integration.config)
    url = reverse("admin:integrations_integration_change", args=[integration.pk])
    page = client.get(url).content.decode()
    assert 'name="name"' in page
    assert 'name="host"' not in page and 'name="config"' not in page and PG_STORED not in page

    response = client.post(
        url,
        {
            "name": "renamed",
            "config": json.dumps({**before, "host": fake.host, "port": fake.port}),
            "host": fake.host,
            "port": fake.port,
            **{f"runs-{k}": "0" for k in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS")},
            "runs-MAX_NUM_FORMS": "0",
        },
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "renamed" and integration.config == before
    assert fake.connections == 0


# -- MySQL against its fake server --------------------------------------------------------------

MY_STORED = "my-Stored-Secret-1"


def test_the_fake_mysql_server_captures_the_password_pymysql_sends():
    with PasswordCapturingMySQL(host="127.0.0.2") as fake:
        with pytest.raises(pymysql.OperationalError, match="Access denied"):
            pymysql.connect(
                host=fake.host, port=fake.port, user="reader", password="sent-in-Clear-2"
            )
    assert fake.passwords == ["sent-in-Clear-2"] and fake.startups == [{"user": "reader"}]


@pytest.fixture
def mysql_moved():
    with PasswordCapturingMySQL(host="127.0.0.2") as fake:
        stored = Integration.objects.create(
            connector="mysql",
            name="shop",
            config={
                "host": "127.0.0.1",
                "port": 3306,
                "user": "reader",
                "password": MY_STORED,
                "catalog_name": "mysql",
                "database_include": [],
                "database_exclude": [],
            },
        )
        yield fake, stored


@pytest.mark.parametrize("button", ["_test", "_save"])
def test_edit_form_never_sends_the_stored_password_to_a_new_mysql_server(
    admin_client, mysql_moved, button
):
    fake, integration = mysql_moved
    response = admin_client.post(
        edit_url(integration),
        post_data(integration, host=fake.host, port=str(fake.port), password="", **{button: "1"}),
    )

    assert fake.passwords == [] and fake.connections == 0
    assert response.context["form"].errors == {"password": [retype_message("host and port")]}
    assert MY_STORED not in response.content.decode()


def test_a_mysql_password_typed_again_goes_to_the_new_server(admin_client, mysql_moved):
    fake, integration = mysql_moved
    response = admin_client.post(
        edit_url(integration),
        post_data(integration, host=fake.host, port=str(fake.port), password="Typed-Anew-3"),
    )

    assert "Connection test failed" in response.content.decode()
    assert fake.passwords == ["Typed-Anew-3"]


# -- every connector's destination fields ------------------------------------------------------


def pem_key(passphrase: bytes | None = None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def bigquery_key() -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-analytics",
            "private_key_id": "0123abcd",
            "private_key": pem_key(),
            "client_email": "catalog@acme-analytics.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def stored_config(key: str, request) -> dict:
    patterns = {"schema_include": [], "schema_exclude": []}
    if key == "postgres":
        return {
            "host": "db.example.com",
            "port": 5432,
            "database": "shop",
            "user": "reader",
            "password": "Pg-stored-1",
            "sslmode": "verify-full",
            **patterns,
        }
    if key == "redshift":
        return {
            "host": "examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com",
            "port": 5439,
            "database": "dev",
            "user": "reader",
            "password": "Rs-stored-1",
            "sslmode": "require",
            **patterns,
        }
    if key == "mysql":
        return {
            "host": "mysql.example.com",
            "port": 3306,
            "user": "reader",
            "password": "My-stored-1",
            "catalog_name": "mysql",
            "database_include": [],
            "database_exclude": [],
        }
    if key == "snowflake":
        return {
            "account": "myorg-myaccount",
            "user": "CATALOG",
            "auth_method": "password",
            "password": "Sf-stored-1",
            "private_key": "",
            "private_key_passphrase": "",
            "role": "",
            "warehouse": "",
            "database_include": [],
            "database_exclude": [],
            **patterns,
        }
    if key == "bigquery":
        return {
            "projects": ["acme-analytics"],
            "service_account_json": bigquery_key(),
            "dataset_include": [],
            "dataset_exclude": [],
            "location": "",
        }
    if key == "dbt_cloud":
        standin = request.getfixturevalue("dbt_cloud")
        dbt_cloud_account(standin)
        return {
            "account_id": 7,
            "access_url": standin.url,
            "token": standin.state.token,
            "database_map": {},
            "description_policy": "fill",
            "include_ci": False,
            "include_development": False,
        }
    raise AssertionError(f"no stored config for {key}")


@pytest.fixture
def connection_tests(monkeypatch) -> list[tuple[str, dict]]:
    """Every connector's connection test replaced by one that records the settings it was
    given: refused means it was never called."""
    calls: list[tuple[str, dict]] = []
    load = connectors._load

    def recording_load(key: str):
        entry = load(key)
        if entry.connector is None:
            return entry

        def recorded(config: dict) -> str:
            calls.append((key, dict(config)))
            return "Connected (recorded)."

        connector = dataclasses.replace(entry.connector, test_connection=recorded)
        return dataclasses.replace(entry, connector=connector)

    monkeypatch.setattr(connectors, "_load", recording_load)
    return calls


# (connector, field, typed value, the secret fields that must be typed again, its words)
DESTINATION_CHANGES = [
    ("postgres", "host", "db2.example.com", "host"),
    ("postgres", "port", "5433", "port"),
    ("postgres", "sslmode", "disable", "SSL mode"),
    ("redshift", "host", "other.abc123xyz789.us-west-2.redshift.amazonaws.com", "host"),
    ("redshift", "port", "5440", "port"),
    ("redshift", "sslmode", "verify-full", "SSL mode"),
    ("mysql", "host", "mysql2.example.com", "host"),
    ("mysql", "port", "3307", "port"),
    ("snowflake", "account", "myorg-otheraccount", "account identifier"),
    ("dbt_cloud", "access_url", "https://cd456.us1.dbt.com", "access URL"),
    ("dbt_cloud", "account_id", "8", "account ID"),
]
SECRET_WORDS = {"password": "password", "token": "service token"}


def test_every_declared_destination_field_is_tried_below():
    declared = {
        (entry.key, name) for entry in all_entries() for name in entry.connector.destination_fields
    }
    assert declared == {(key, name) for key, name, _value, _words in DESTINATION_CHANGES}


@pytest.mark.parametrize("button", ["_test", "_save"])
@pytest.mark.parametrize("key, field, value, words", DESTINATION_CHANGES)
def test_changing_a_destination_field_with_the_secret_blank_is_refused_without_connecting(
    admin_client, connection_tests, request, key, field, value, words, button
):
    config = stored_config(key, request)
    integration = Integration.objects.create(connector=key, name="it", config=config)
    secret = integration.connector_obj.secret_fields[0]

    response = admin_client.post(
        edit_url(integration), post_data(integration, **{field: value, button: "1"})
    )

    assert connection_tests == []
    assert response.status_code == 200
    message = retype_message(words, SECRET_WORDS[secret])
    assert response.context["form"].errors == {secret: [message]}
    assert message in response.content.decode()
    assert config[secret] not in response.content.decode()
    integration.refresh_from_db()
    assert integration.config == config


# (connector, field, typed value): the secrets still go where they went.
SAME_DESTINATION = [
    ("postgres", "schema_include", "analytics*"),
    ("postgres", "host", " DB.Example.com "),  # the same host, as typed by someone else
    ("postgres", "port", "05432"),
    ("redshift", "database", "analytics"),
    ("mysql", "database_include", "shop*"),
    ("snowflake", "schema_include", "ANALYTICS*"),
    ("snowflake", "user", "OTHER_USER"),
    ("bigquery", "projects", "acme-analytics\nacme-staging"),
    ("bigquery", "dataset_include", "sales*"),
    ("dbt_cloud", "description_policy", "dbt_wins"),
]


@pytest.mark.parametrize("key, field, value", SAME_DESTINATION)
def test_other_changes_keep_the_stored_secret_and_work(
    admin_client, connection_tests, request, key, field, value
):
    config = stored_config(key, request)
    integration = Integration.objects.create(connector=key, name="it", config=config)
    secret = integration.connector_obj.secret_fields[0]
    data = post_data(integration, **{field: value})

    tested = admin_client.post(edit_url(integration), {**data, "_test": "1"})
    assert tested.context["test_result"] == "Connected (recorded).", tested.context["form"].errors
    saved = admin_client.post(edit_url(integration), {**data, "_save": "1"})

    assert saved.status_code == 302
    assert [c[secret] for k, c in connection_tests] == [config[secret]] * 2
    assert config[secret] not in tested.content.decode()
    integration.refresh_from_db()
    assert integration.config[secret] == config[secret]
    assert integration.config[field] == saved_value(key, field, value)


def saved_value(key: str, field: str, typed: str):
    form = connectors.get_connector(key).form
    return form.base_fields[field].clean(typed)


def test_snowflake_key_pair_needs_the_key_again_for_a_new_account_not_the_old_password(
    admin_client, connection_tests
):
    old_key = pem_key(b"open sesame")
    config = {
        **stored_config("snowflake", None),
        "auth_method": "key_pair",
        "private_key": old_key,
        "private_key_passphrase": "open sesame",
        "password": "Sf-stale-from-before",  # once used, then key pair was chosen
    }
    integration = Integration.objects.create(connector="snowflake", name="sf", config=config)

    refused = admin_client.post(
        edit_url(integration), post_data(integration, account="myorg-otheraccount")
    )
    assert connection_tests == []
    assert refused.context["form"].errors == {
        "private_key": [retype_message("account identifier", "private key")]
    }

    new_key = pem_key()
    saved = admin_client.post(
        edit_url(integration),
        post_data(integration, account="myorg-otheraccount", private_key=new_key, _save="1"),
    )
    assert saved.status_code == 302
    [(_key, tested)] = connection_tests
    # Neither the old key's passphrase nor the unused password goes along to the new account.
    assert tested["private_key"] == new_key.strip()
    assert tested["private_key_passphrase"] == "" and tested["password"] == ""
    integration.refresh_from_db()
    assert integration.config["account"] == "myorg-otheraccount"
    assert "Sf-stale-from-before" not in json.dumps(integration.config)
    assert old_key not in json.dumps(integration.config)


# -- dbt Cloud against two stand-ins ----------------------------------------------------------


@pytest.fixture
def other_dbt_cloud(dbt_cloud):
    """A second stand-in on another port: where a changed access URL points."""
    standin = DbtCloudStandin().start()
    dbt_cloud_account(standin)
    yield standin
    standin.stop()


@pytest.fixture
def dbt_stored(dbt_cloud):
    dbt_cloud_account(dbt_cloud)
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 7, "access_url": dbt_cloud.url, "token": dbt_cloud.state.token},
    )


@pytest.mark.parametrize("button", ["_test", "_save"])
def test_a_new_access_url_gets_no_request_with_the_stored_token(
    admin_client, dbt_cloud, other_dbt_cloud, dbt_stored, button
):
    response = admin_client.post(
        edit_url(dbt_stored),
        post_data(dbt_stored, access_url=other_dbt_cloud.url, token="", **{button: "1"}),
    )

    assert other_dbt_cloud.state.requests == []
    assert response.context["form"].errors == {
        "token": [retype_message("access URL", "service token")]
    }
    body = response.content.decode()
    assert retype_message("access URL", "service token") in body
    assert dbt_cloud.state.token not in body
    assert f'value="{other_dbt_cloud.url}"' in body
    dbt_stored.refresh_from_db()
    assert dbt_stored.config["access_url"] == dbt_cloud.url


def test_the_token_typed_again_reaches_the_new_access_url(
    admin_client, other_dbt_cloud, dbt_stored
):
    response = admin_client.post(
        edit_url(dbt_stored),
        post_data(
            dbt_stored, access_url=other_dbt_cloud.url, token=other_dbt_cloud.state.token, _test="1"
        ),
    )

    assert response.context["test_result"] == "Connected to dbt Cloud account “Acme”."
    assert {r["authorization"] for r in other_dbt_cloud.state.requests} == {
        f"Token {other_dbt_cloud.state.token}"
    }


@pytest.mark.parametrize("button", ["_test", "_save"])
def test_a_new_account_id_gets_no_request_with_the_stored_token(
    admin_client, dbt_cloud, dbt_stored, button
):
    dbt_cloud.add_account(8, "Someone else")
    response = admin_client.post(
        edit_url(dbt_stored), post_data(dbt_stored, account_id="8", token="", **{button: "1"})
    )

    # The page lists the stored account's jobs (its own URL and token); account 8 is not asked.
    assert not [r for r in dbt_cloud.state.requests if "/accounts/8/" in r["path"]]
    assert response.context["form"].errors == {
        "token": [retype_message("account ID", "service token")]
    }
    dbt_stored.refresh_from_db()
    assert dbt_stored.config["account_id"] == 7
