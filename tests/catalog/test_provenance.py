"""Each dbt fact says where it came from (job, run, time) on the table page, in the read API
and in catalog_export; "Jobs that build it" and the jobs page list live builders only.

The catalog is the one issue 11 describes, built with the ORM as the dbt apply leaves it: a
nightly build job, an hourly test-only job whose run is newer, an API-triggered backfill job,
a removed job, a test that failed 99 rows nightly and passed hourly, and a test never run."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import ApiToken, DbtJob, DbtJobFact
from catalog.selectors import catalog_export_data
from catalog.selectors.provenance import table_builds
from tests.catalog.conftest import (
    BACKFILL,
    BACKFILL_RUN,
    FAILED_MESSAGE,
    HOURLY,
    HOURLY_RUN,
    NIGHTLY,
    NIGHTLY_RUN,
    ORDERS,
    at,
)
from tests.factories import analyst_user

pytestmark = pytest.mark.django_db

RUNS = "https://ab123.us1.dbt.com/deploy/1/projects/70/runs"


@pytest.fixture
def analyst_client(client):
    client.force_login(analyst_user())
    return client


def text(html: str) -> str:
    """The words a reader sees: tags dropped, blank space folded."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def section(body: str, pattern: str) -> str:
    """The HTML of the first element whose opening tag matches, up to its closing tag."""
    start = re.search(pattern, body)
    assert start, pattern
    tag = re.match(r"<(\w+)", body[start.start() :]).group(1)
    depth, i = 0, start.start()
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", body[start.start() :]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return body[i : start.start() + m.end()]
    raise AssertionError(f"unclosed {tag}")


def row(body: str, css_class: str) -> str:
    return text(section(body, rf'<tr class="{css_class}"'))


def run_link(run_id: int) -> str:
    return f'href="{RUNS}/{run_id}/" rel="noopener noreferrer" class="run-link">#{run_id}</a>'


# -- the table page ---------------------------------------------------------------------------


def test_the_model_panel_names_the_run_and_job_behind_each_fact(analyst_client, multi_job_catalog):
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.orders.pk])
    ).content.decode()
    panel = section(body, r'<section class="module dbt-panel" id="dbt-model"')

    assert row(panel, "fact-execution") == (
        "Last built 2026-11-27 02:35 by run #101 of Nightly build (finished 2026-11-27 02:40)"
    )
    assert run_link(NIGHTLY_RUN) in section(panel, r'<tr class="fact-execution"')
    assert row(panel, "fact-build-status") == (
        "Build status success in 12.5 s · SELECT 99 _message: SELECT 99, code: SELECT, "
        "rows_affected: 99"
    )
    # The hourly test run is newer: it gave the definition, and nothing else.
    assert row(panel, "fact-definition") == (
        "Definition from the manifest of run #201 of Hourly tests (finished 2026-11-27 03:10)"
    )
    assert row(panel, "fact-catalog") == (
        "Column types from the catalog of run #101 of Nightly build (finished 2026-11-27 02:40)"
    )
    summary = text(section(panel, r"<summary>"))
    assert summary == (
        "Compiled SQL, compiled by run #101 of Nightly build (finished 2026-11-27 02:40)"
    )
    assert "version 2" in text(section(panel, r"<h2>")) and "latest version" in panel
    assert "built by dbt 2026-11-27 02:35 (Nightly build)" in text(body)


def test_a_model_no_run_built_says_so_and_shows_its_sql_as_written(
    analyst_client, multi_job_catalog
):
    model = multi_job_catalog.model
    model.execution_job = model.execution_run = model.execution_finished_at = None
    model.executed_at, model.execution_status = None, ""
    model.compiled_job = model.compiled_run = model.compiled_finished_at = None
    model.compiled_code, model.latest_version = "", "3"
    model.save()

    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.orders.pk])
    ).content.decode()
    panel = section(body, r'<section class="module dbt-panel" id="dbt-model"')

    assert row(panel, "fact-execution") == "Last built never, by any run read"
    assert 'class="fact-build-status"' not in panel
    assert text(section(panel, r"<summary>")) == "SQL as written (no run read compiled it)"
    assert "latest is version 3" in text(panel) and "latest version" not in panel


def test_a_source_shows_the_freshness_its_build_job_checked(analyst_client, multi_job_catalog):
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.raw_orders.pk])
    ).content.decode()
    panel = section(body, r'<section class="module dbt-panel" id="dbt-source"')

    assert row(panel, "fact-freshness") == (
        "Freshness warn max loaded at 2026-11-27 01:00, 5400 s old checked 2026-11-27 02:30 by "
        "run #101 of Nightly build (finished 2026-11-27 02:40)"
    )
    assert run_link(NIGHTLY_RUN) in panel
    assert 'class="fact-execution"' not in panel  # a source is not built


def test_a_source_no_run_checked_says_not_checked(analyst_client, multi_job_catalog):
    source = multi_job_catalog.source
    source.freshness_status, source.freshness_job, source.freshness_run = "", None, None
    source.save()
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.raw_orders.pk])
    ).content.decode()
    assert row(body, "fact-freshness") == "Freshness not checked by any run read"
    freshness = analyst_client.get(reverse("catalog:freshness")).content.decode()
    assert text(section(freshness, r'<tr data-source="raw_orders"')).startswith(
        "raw.raw_orders not checked"
    )


def test_tests_show_their_result_run_and_a_never_run_test_says_so(
    analyst_client, multi_job_catalog
):
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.orders.pk])
    ).content.decode()
    flipped = section(body, r'<tr data-test="not_null_orders_status"')
    never = section(body, r'<tr data-test="unique_orders_order_id"')

    assert text(section(flipped, r'<td class="test-status"')) == "pass"
    assert text(section(flipped, r'<td class="test-result"')) == (
        "2026-11-27 03:05 by run #201 of Hourly tests (finished 2026-11-27 03:10)"
    )
    assert run_link(HOURLY_RUN) in flipped
    assert text(section(never, r'<td class="test-status"')) == "never run"
    assert text(section(never, r'<td class="test-result"')) == "—"
    assert "pass" not in text(never) and "not run" not in text(never).replace("never run", "")
    # The column's own test badges say the same.
    status_column = section(body, r'<tr id="column-\d+" data-column="order_id"')
    assert "never run" in text(status_column)


def test_history_rows_name_job_run_time_status_failures_and_message_newest_first(
    analyst_client, multi_job_catalog
):
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.orders.pk])
    ).content.decode()
    history = section(section(body, r'<tr data-test="not_null_orders_status"'), r"<tbody>")
    rows = [text(r) for r in re.findall(r"<tr data-history-status.*?</tr>", history, re.S)]

    assert rows == [
        "2026-11-27 03:05 pass 0 run #201 of Hourly tests",
        f"2026-11-27 02:38 fail 99 {FAILED_MESSAGE} run #101 of Nightly build",
    ]
    assert run_link(HOURLY_RUN) in history and run_link(NIGHTLY_RUN) in history
    assert "History (newest first)" in text(section(body, r'<section class="module" id="tests"'))


def test_jobs_that_build_it_are_the_live_jobs_with_a_build_result_newest_first(
    analyst_client, multi_job_catalog
):
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.orders.pk])
    ).content.decode()
    jobs = section(body, r'<section class="module" id="jobs"')
    items = [text(li) for li in re.findall(r"<li data-job.*?</li>", jobs, re.S)]

    assert items == [
        "Nightly build Scheduled : last built 2026-11-27 02:35 by run success #101",
        "Orchestrated backfill Triggered by API or an orchestrator : last built 2026-11-26 "
        "22:50 by run success #301",
    ]
    # Not the test-only job (its run is the newest), nor the removed one (its fact is stale).
    assert "Hourly tests" not in jobs and "Retired nightly" not in jobs
    assert f'href="{RUNS}/{BACKFILL_RUN}/"' in jobs


def test_a_source_table_is_built_by_no_job(analyst_client, multi_job_catalog):
    # The nightly job checked raw_orders' freshness: that is not building it.
    assert table_builds(table=multi_job_catalog.raw_orders) == []
    body = analyst_client.get(
        reverse("catalog:table", args=[multi_job_catalog.raw_orders.pk])
    ).content.decode()
    assert 'id="jobs"' not in body


def test_the_newest_build_of_a_job_gives_its_time_and_run(multi_job_catalog):
    DbtJobFact.objects.filter(job=multi_job_catalog.nightly, kind="execution").update(
        executed_at=None, finished_at=at(2, 40)
    )
    (nightly, backfill) = table_builds(table=multi_job_catalog.orders)
    assert (nightly.job.dbt_id, nightly.run.dbt_id, nightly.built_at) == (
        NIGHTLY,
        NIGHTLY_RUN,
        at(2, 40),  # the run's end when the node's own time is unknown
    )
    assert (backfill.job.dbt_id, backfill.built_at) == (BACKFILL, at(22, 50, day=26))


def test_the_table_page_takes_a_fixed_number_of_queries_with_several_jobs(
    analyst_client, multi_job_catalog, django_assert_num_queries
):
    url = reverse("catalog:table", args=[multi_job_catalog.orders.pk]) + "?depth=0"
    analyst_client.get(url)
    with django_assert_num_queries(TABLE_PAGE_QUERIES) as captured:
        analyst_client.get(url)
    # More history rows, jobs and facts add no query.
    extra = DbtJob.objects.create(
        integration=multi_job_catalog.dbt, dbt_id=7100, name="Weekly full refresh"
    )
    DbtJobFact.objects.create(
        integration=multi_job_catalog.dbt, job=extra, unique_id=ORDERS, kind="execution"
    )
    with django_assert_num_queries(len(captured)):
        body = analyst_client.get(url).content.decode()
    assert "Weekly full refresh" in section(body, r'<section class="module" id="jobs"')


# Session, user, permissions (4), the table, columns, nodes, tests, history, builds, exposures,
# terms, edits (9), lineage at depth 0 (1 + labels).
TABLE_PAGE_QUERIES = 15


# -- the jobs page ----------------------------------------------------------------------------


def test_the_jobs_page_lists_live_jobs_with_their_state_and_what_they_build(
    analyst_client, multi_job_catalog
):
    body = analyst_client.get(reverse("catalog:jobs")).content.decode()
    jobs = {
        m.group(1): section(body, rf'<section class="module dbt-job" data-job="{m.group(1)}"')
        for m in re.finditer(r'data-job="([^"]+)"', body)
    }

    assert list(jobs) == ["Hourly tests", "Nightly build", "Orchestrated backfill"]
    states = {
        name: text(section(html, r'<span class="status job-state')) for name, html in jobs.items()
    }
    assert states == {
        "Hourly tests": "Scheduled",
        "Nightly build": "Scheduled",
        "Orchestrated backfill": "Triggered by API or an orchestrator",
    }
    builds = {
        name: text(section(html, r'<p class="quiet job-builds"')) for name, html in jobs.items()
    }
    assert builds == {
        "Hourly tests": "Builds: —",
        "Nightly build": "Builds: orders (2026-11-27 02:35)",
        "Orchestrated backfill": "Builds: orders (2026-11-26 22:50)",
    }
    assert "Retired nightly" not in body and f"#{901}" not in body


def test_the_jobs_page_takes_a_fixed_number_of_queries(
    analyst_client, multi_job_catalog, django_assert_num_queries
):
    analyst_client.get(reverse("catalog:jobs"))
    # Session, user, permissions (4), jobs, their runs, build facts, tables (4).
    with django_assert_num_queries(8):
        analyst_client.get(reverse("catalog:jobs"))


# -- the read API -----------------------------------------------------------------------------


@pytest.fixture
def api(multi_job_catalog) -> Client:
    _token, raw = ApiToken.issue(user=analyst_user(), name="script")
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def provenance(job_id: int, job_name: str, run_id: int, finished_at) -> dict:
    return {
        "job": {"id": job_id, "name": job_name},
        "run": {"id": run_id, "url": f"{RUNS}/{run_id}/"},
        "finished_at": finished_at.isoformat(),
    }


NIGHTLY_P = provenance(NIGHTLY, "Nightly build", NIGHTLY_RUN, at(2, 40))
HOURLY_P = provenance(HOURLY, "Hourly tests", HOURLY_RUN, at(3, 10))


def test_the_api_gives_each_fact_of_a_model_with_its_provenance(api, multi_job_catalog):
    data = api.get(f"/api/v1/tables/{multi_job_catalog.orders.pk}/").json()
    (node,) = data["dbt"]

    assert node["provenance"] == {
        "definition": HOURLY_P,
        "execution": NIGHTLY_P,
        "compiled": NIGHTLY_P,
        "catalog": NIGHTLY_P,
        "freshness": None,
    }
    assert node["execution"] == {
        "status": "success",
        "executed_at": at(2, 35).isoformat(),
        "execution_time": 12.5,
        "message": "SELECT 99",
        "adapter_response": {"_message": "SELECT 99", "code": "SELECT", "rows_affected": 99},
    }
    assert (node["version"], node["latest_version"], node["is_latest_version"]) == ("2", "2", True)
    assert data["jobs"] == [
        {
            "job": {"id": NIGHTLY, "name": "Nightly build", "url": multi_job_catalog.nightly.url},
            "run": {"id": NIGHTLY_RUN, "url": f"{RUNS}/{NIGHTLY_RUN}/"},
            "last_built_at": at(2, 35).isoformat(),
        },
        {
            "job": {
                "id": BACKFILL,
                "name": "Orchestrated backfill",
                "url": multi_job_catalog.backfill.url,
            },
            "run": {"id": BACKFILL_RUN, "url": f"{RUNS}/{BACKFILL_RUN}/"},
            "last_built_at": at(22, 50, day=26).isoformat(),
        },
    ]


def test_the_api_gives_a_sources_freshness_with_the_run_that_checked_it(api, multi_job_catalog):
    (node,) = api.get(f"/api/v1/tables/{multi_job_catalog.raw_orders.pk}/").json()["dbt"]
    assert node["freshness"] == "warn"
    assert node["freshness_check"] == {
        "status": "warn",
        "max_loaded_at": at(1, 0).isoformat(),
        "snapshotted_at": at(2, 30).isoformat(),
        "age_seconds": 5400.0,
        "criteria": {"warn_after": {"count": 1, "period": "hour"}},
        "error": "",
    }
    assert node["provenance"]["freshness"] == NIGHTLY_P
    assert node["provenance"]["execution"] is None and node["execution"] is None


def test_the_api_gives_tests_their_result_provenance_and_named_history(api, multi_job_catalog):
    tests = api.get(f"/api/v1/tables/{multi_job_catalog.orders.pk}/tests/").json()["tests"]
    by_name = {t["name"]: t for t in tests}
    flipped, never = by_name["not_null_orders_status"], by_name["unique_orders_order_id"]

    assert (flipped["status"], flipped["never_run"]) == ("pass", False)
    assert flipped["provenance"] == {"definition": HOURLY_P, "result": HOURLY_P}
    assert flipped["history"] == [
        {
            "status": "pass",
            "failures": 0,
            "message": "",
            "executed_at": at(3, 5).isoformat(),
            "job": {"id": HOURLY, "name": "Hourly tests"},
            "run": {"id": HOURLY_RUN, "url": f"{RUNS}/{HOURLY_RUN}/"},
        },
        {
            "status": "fail",
            "failures": 99,
            "message": FAILED_MESSAGE,
            "executed_at": at(2, 38).isoformat(),
            "job": {"id": NIGHTLY, "name": "Nightly build"},
            "run": {"id": NIGHTLY_RUN, "url": f"{RUNS}/{NIGHTLY_RUN}/"},
        },
    ]
    assert (never["status"], never["never_run"], never["history"]) == ("", True, [])
    assert never["provenance"] == {"definition": HOURLY_P, "result": None}
    columns = api.get(f"/api/v1/tables/{multi_job_catalog.orders.pk}/columns/").json()["columns"]
    assert {c["name"]: c["tests"] for c in columns}["order_id"] == [
        {"name": "unique_orders_order_id", "status": "", "never_run": True}
    ]


def test_the_openapi_document_describes_provenance(api):
    schemas = api.get("/api/v1/schema/").json()["components"]["schemas"]
    assert set(schemas["Provenance"]["properties"]) == {"job", "run", "finished_at"}
    assert set(schemas["NodeProvenance"]["properties"]) == {
        "definition",
        "execution",
        "compiled",
        "catalog",
        "freshness",
    }
    assert schemas["Table"]["properties"]["jobs"]["items"] == {"$ref": "#/components/schemas/Build"}
    assert set(schemas["TestHistoryRow"]["properties"]) >= {"job", "run", "executed_at", "status"}
    assert set(schemas["Test"]["properties"]["provenance"]["properties"]) == {
        "definition",
        "result",
    }


# -- catalog_export ---------------------------------------------------------------------------


def exported(multi_job_catalog) -> tuple[dict, dict, dict]:
    data = catalog_export_data()
    integrations = {i["name"]: i for i in data["integrations"]}
    tables = {
        t["name"]: t
        for d in integrations["warehouse"]["databases"]
        for s in d["schemas"]
        for t in s["tables"]
    }
    return tables["orders"]["dbt"], tables["raw_orders"]["dbt"], integrations["dbt"]["dbt"]


def test_the_export_gives_each_fact_its_provenance_and_names_jobs_in_history(multi_job_catalog):
    orders, raw_orders, _ = exported(multi_job_catalog)
    (model,) = orders["nodes"]

    assert model["provenance"] == {
        "definition": HOURLY_P,
        "execution": NIGHTLY_P,
        "compiled": NIGHTLY_P,
        "catalog": NIGHTLY_P,
        "freshness": None,
    }
    assert (model["execution_status"], model["execution_time"], model["execution_message"]) == (
        "success",
        12.5,
        "SELECT 99",
    )
    assert (model["version"], model["is_latest_version"]) == ("2", True)
    (source,) = raw_orders["nodes"]
    assert source["provenance"]["freshness"] == NIGHTLY_P
    assert source["freshness"]["status"] == "warn"

    tests = {t["name"]: t for t in orders["tests"]}
    flipped, never = tests["not_null_orders_status"], tests["unique_orders_order_id"]
    assert flipped["provenance"] == {"definition": HOURLY_P, "result": HOURLY_P}
    # Execution order, oldest first: fail (99, nightly) then pass (hourly).
    assert [
        (h["status"], h["failures"], h["job"]["name"], h["run"]["id"]) for h in flipped["history"]
    ] == [
        ("fail", 99, "Nightly build", NIGHTLY_RUN),
        ("pass", 0, "Hourly tests", HOURLY_RUN),
    ]
    assert (never["status"], never["never_run"], never["provenance"]["result"]) == ("", True, None)
    assert [j["job"]["name"] for j in orders["jobs"]] == ["Nightly build", "Orchestrated backfill"]
    assert orders["jobs"][0]["last_built_at"] == at(2, 35).isoformat()
    assert raw_orders["jobs"] == []


def test_the_export_lists_live_jobs_with_their_state_and_removed_ones_apart(multi_job_catalog):
    *_, integration = exported(multi_job_catalog)
    assert [(j["name"], j["state"]) for j in integration["jobs"]] == [
        ("Hourly tests", "scheduled"),
        ("Nightly build", "scheduled"),
        ("Orchestrated backfill", "triggered"),
    ]
    assert [j["name"] for j in integration["removed_jobs"]] == ["Retired nightly"]
    assert integration["jobs"][1]["triggers"] == ["schedule"]
