"""Users in each role, and integrations without a connection test."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission, User

from integrations.models import Integration
from integrations.roles import ADMINS, ANALYSTS, roles_install


def user_in(role: str, username: str | None = None) -> User:
    # A transactional test flushes the groups the data migration made.
    roles_install(Group, Permission)
    user = User.objects.create_user(username or role.lower(), password="pw-for-tests-1")
    user.groups.add(Group.objects.get(name=role))
    return user


def admin_user() -> User:
    return user_in(ADMINS, "alice-admin")


def analyst_user() -> User:
    return user_in(ANALYSTS, "ann-analyst")


def postgres_integration(config: dict, name: str = "warehouse") -> Integration:
    return Integration.objects.create(connector="postgres", name=name, config=config)


def dbt_integration(name: str = "dbt", **config) -> Integration:
    return Integration.objects.create(
        connector="dbt_cloud",
        name=name,
        config={
            "account_id": 1,
            "access_url": "https://ab123.us1.dbt.com",
            "token": "dbtc_secret",
            **config,
        },
    )


def dbt_cloud_account(standin) -> None:
    """Account 7 on the stand-in dbt Cloud: project 70, its Production environment 700,
    and two scheduled jobs, 7000 "Nightly build" and 7002 "Hourly freshness"."""
    standin.add_account(7, "Acme")
    standin.add_project(70, "analytics", 7)
    standin.add_environment(700, 70, "Production", "deployment", "production")
    standin.add_job(7000, 70, 700, "Nightly build")
    standin.add_job(7002, 70, 700, "Hourly freshness")
