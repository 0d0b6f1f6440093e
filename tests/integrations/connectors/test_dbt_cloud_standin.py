"""The stand-in dbt Cloud API itself, pinned with plain `requests` against the reference
(../shared/reference/dbt-cloud-api.md), so that catalog tests can trust what it serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support.dbt_cloud_standin import TIMEOUT_MESSAGE, DbtCloudStandin
from tests.support.dbt_cloud_standin.jaffle import FIXTURES

ACCOUNT = 70403103922125
PROJECT = 70403103922200
PROD, STAGING, DEV = 70403103922300, 70403103922301, 70403103922302
NIGHTLY, CI, OLD = 70403103922400, 70403103922401, 70403103922402
RUN = 70403110257794
V2 = f"/api/v2/accounts/{ACCOUNT}"
V3 = f"/api/v3/accounts/{ACCOUNT}"
RUN_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
NOT_FOUND = (
    "The requested resource was not found. Please check that you have the proper permissions."
)


def get(standin: DbtCloudStandin, path: str, params=None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {"Authorization": f"Token {standin.state.token}"})
    return requests.get(standin.url + path, params=params, headers=headers, timeout=10, **kwargs)


def data(standin: DbtCloudStandin, path: str, params=None):
    response = get(standin, path, params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def ids(rows) -> list[int]:
    return [row["id"] for row in rows]


def error_status(response: requests.Response, code: int) -> dict:
    assert response.status_code == code
    body = response.json()
    assert body["data"] is None
    assert body["status"]["code"] == code and body["status"]["is_success"] is False
    assert body["status"]["developer_message"] is None
    return body["status"]


@pytest.fixture
def world(dbt_cloud):
    """One account: a project with prod/staging/dev environments, a scheduled job with
    freshness and docs, a CI job, a deleted job, and one standard jaffle_shop run."""
    dbt_cloud.add_account(ACCOUNT, "Acme Analytics")
    dbt_cloud.add_project(PROJECT, "jaffle_shop")
    dbt_cloud.add_environment(PROD, PROJECT, "Production", deployment_type="production")
    dbt_cloud.add_environment(STAGING, PROJECT, "Staging", deployment_type="staging")
    dbt_cloud.add_environment(DEV, PROJECT, "Development", type="development")
    dbt_cloud.add_job(NIGHTLY, PROJECT, PROD, "Nightly")
    dbt_cloud.add_job(CI, PROJECT, STAGING, "CI", job_type="ci", cron=None, generate_docs=False)
    dbt_cloud.add_job(OLD, PROJECT, PROD, "Old", state=2)
    dbt_cloud.add_jaffle_shop_run(RUN, NIGHTLY)
    return dbt_cloud


# -- envelope, formats and object shapes -----------------------------------------------


def test_an_object_comes_in_the_success_envelope(world):
    body = get(world, f"{V2}/").json()
    assert body["status"] == {
        "code": 200,
        "is_success": True,
        "user_message": "Success!",
        "developer_message": "",
    }
    assert body["data"]["id"] == ACCOUNT and body["data"]["name"] == "Acme Analytics"
    assert "extra" not in body
    assert ISO_TIME.match(body["data"]["created_at"])


def test_runs_use_a_space_in_timestamps_and_everything_else_a_t(world):
    run = data(world, f"{V2}/runs/{RUN}/", {"include_related": "trigger,run_steps"})
    for key in ("created_at", "updated_at", "dequeued_at", "started_at", "finished_at"):
        assert RUN_TIME.match(run[key]), key
    assert RUN_TIME.match(run["trigger"]["created_at"])
    assert RUN_TIME.match(run["run_steps"][0]["started_at"])
    job = data(world, f"{V2}/jobs/{NIGHTLY}/")
    env = data(world, f"{V3}/projects/{PROJECT}/environments/")[0]
    project = data(world, f"{V3}/projects/{PROJECT}/")
    for obj in (job, env, project):
        assert ISO_TIME.match(obj["created_at"]) and ISO_TIME.match(obj["updated_at"])


def test_a_finished_run_has_the_reference_field_set(world):
    run = data(world, f"{V2}/runs/{RUN}/")
    assert run["id"] == RUN and run["job_definition_id"] == run["job_id"] == NIGHTLY
    assert (run["account_id"], run["project_id"], run["environment_id"]) == (
        ACCOUNT,
        PROJECT,
        PROD,
    )
    assert run["status_humanized"] == "Success" and run["status_message"] is None
    flags = ("in_progress", "is_complete", "is_success", "is_error", "is_cancelled")
    assert [run[f] for f in flags] == [False, True, True, False, False]
    assert run["is_running"] is None
    assert (run["duration"], run["queued_duration"], run["run_duration"]) == (
        "00:09:49",
        "00:00:07",
        "00:09:42",
    )
    assert run["duration_humanized"] == "9 minutes, 49 seconds"
    assert run["href"] == f"{world.url}/deploy/{ACCOUNT}/projects/{PROJECT}/runs/{RUN}/"
    assert run["artifacts_saved"] and run["has_docs_generated"] and run["has_sources_generated"]
    assert re.fullmatch(r"[0-9a-f]{40}", run["git_sha"]) and run["git_branch"] == "main"
    assert run["trigger"] is None and run["job"] is None and run["run_steps"] == []
    assert run["dbt_version"] == "latest"  # the environment's, as the job has none


@pytest.mark.parametrize(
    "status, humanized, flags",
    [
        (1, "Queued", [True, False, False, False, False]),
        (2, "Starting", [True, False, False, False, False]),
        (3, "Running", [True, False, False, False, False]),
        (20, "Error", [False, True, False, True, False]),
        (30, "Cancelled", [False, True, False, False, True]),
    ],
)
def test_status_codes_map_to_names_and_flags(world, status, humanized, flags):
    world.add_run(RUN + 1, NIGHTLY, status)
    run = data(world, f"{V2}/runs/{RUN + 1}/")
    assert run["status_humanized"] == humanized
    assert [
        run[f] for f in ("in_progress", "is_complete", "is_success", "is_error", "is_cancelled")
    ] == flags
    assert (run["finished_at"] is None) == (status < 10)


def test_a_queued_run_is_mostly_null(world):
    world.add_run(RUN + 1, NIGHTLY, 1, blocked_by=[RUN])
    run = data(world, f"{V2}/runs/{RUN + 1}/", {"include_related": "run_steps"})
    for key in (
        "dequeued_at",
        "started_at",
        "finished_at",
        "git_branch",
        "git_sha",
        "artifact_s3_path",
    ):
        assert run[key] is None, key
    assert run["artifacts_saved"] is False and run["run_steps"] == []
    assert run["blocked_by"] == [RUN]
    assert run["run_duration"] == "00:00:00"
    assert run["finished_at_humanized"] == "0 minutes from now"


def test_a_timed_out_run_is_cancelled_with_a_message_and_long_durations(world):
    start = datetime(2026, 8, 1, 5, 0, tzinfo=UTC)
    world.add_run(
        RUN + 1,
        NIGHTLY,
        30,
        created_at=start,
        started_at=start,
        finished_at=start + timedelta(days=1, seconds=36),
        status_message=TIMEOUT_MESSAGE,
    )
    run = data(world, f"{V2}/runs/{RUN + 1}/")
    assert (run["status"], run["status_humanized"]) == (30, "Cancelled")
    assert run["is_cancelled"] and not run["is_error"]
    assert run["status_message"].startswith("This run timed out")
    assert run["duration"] == "24:00:36"
    assert run["finished_at"] == "2026-08-02 05:00:36.000000+00:00"


def test_jobs_carry_the_reference_fields_and_no_deactivated_as_v2_now_answers(world):
    job = data(world, f"{V2}/jobs/{NIGHTLY}/")
    assert job["execute_steps"] == ["dbt build"] and job["job_type"] == "scheduled"
    assert job["generate_docs"] and job["run_generate_sources"]
    assert job["triggers"]["schedule"] is True and "deactivated" not in job
    assert job["schedule"]["cron"] == "0 5 * * *" and job["cron_humanized"] == "At 05:00 AM"
    assert job["dbt_version"] is None and job["state"] == 1
    world.add_job(OLD + 1, PROJECT, PROD, "Paused", job_type="other", cron=None)
    paused = data(world, f"{V2}/jobs/{OLD + 1}/")
    assert not any(paused["triggers"].values()) and "deactivated" not in paused
    assert paused["state"] == 1  # every trigger off is not deleted
    ci = data(world, f"{V2}/jobs/{CI}/")
    assert ci["triggers"]["github_webhook"] and not ci["triggers"]["schedule"]
    assert all("deactivated" not in j for j in data(world, f"{V2}/jobs/"))


def test_the_old_job_shape_derives_deactivated_from_the_triggers(world):
    world.state.send_deactivated = True
    world.add_job(OLD + 1, PROJECT, PROD, "Paused", job_type="other", cron=None)
    world.add_job(
        OLD + 2, PROJECT, PROD, "Branch only", cron=None, triggers={"custom_branch_only": True}
    )
    listed = {j["id"]: j["deactivated"] for j in data(world, f"{V2}/jobs/")}
    assert listed[NIGHTLY] is False and listed[CI] is False  # a schedule; a git webhook
    assert listed[OLD + 1] is True and listed[OLD + 2] is True  # custom_branch_only: no trigger
    assert data(world, f"{V2}/jobs/{OLD + 1}/")["deactivated"] is True


def test_jobs_list_the_most_recent_completed_run_when_asked_unless_ignored(world):
    rows = data(world, f"{V2}/jobs/", {"include_related": "most_recent_completed_run"})
    nightly = next(j for j in rows if j["id"] == NIGHTLY)
    assert nightly["most_recent_completed_run"]["id"] == RUN
    assert next(j for j in rows if j["id"] == CI)["most_recent_completed_run"] is None
    assert "most_recent_completed_run" not in data(world, f"{V2}/jobs/")[0]
    world.state.ignored_related = {"most_recent_completed_run"}
    rows = data(world, f"{V2}/jobs/", {"include_related": "most_recent_completed_run"})
    assert all("most_recent_completed_run" not in j for j in rows)


def test_fourteen_digit_ids_round_trip(world):
    big = 99999999999999
    world.add_run(big, NIGHTLY)
    assert data(world, f"{V2}/runs/{big}/")["id"] == big
    assert ids(data(world, f"{V2}/runs/", {"id__gt": RUN})) == [big]


# -- lists: extra, pagination, ordering ------------------------------------------------


def test_list_extra_echoes_the_effective_query(world):
    body = get(world, f"{V2}/jobs/", {"project_id": PROJECT}).json()
    assert body["extra"] == {
        "filters": {
            "limit": 100,
            "offset": 0,
            "account_id": ACCOUNT,
            "state": "active",
            "project_id": PROJECT,
        },
        "order_by": "id",
        "pagination": {"count": 2, "total_count": 2},
    }
    runs = get(world, f"{V2}/runs/", {"job_definition_id": NIGHTLY, "status__in": "[10,20]"})
    filters = runs.json()["extra"]["filters"]
    assert filters["state"] == "all" and filters["job_definition_id"] == NIGHTLY
    assert filters["status__in"] == [10, 20]
    projects = get(world, f"{V3}/projects/").json()["extra"]["filters"]
    assert projects == {"limit": 100, "offset": 0, "account_id": ACCOUNT, "state": "active"}


def test_runs_paginate_by_100_across_pages(world):
    for n in range(1, 250):
        world.add_run(RUN + n, NIGHTLY)
    seen, offset = [], 0
    while True:
        body = get(world, f"{V2}/runs/", {"offset": offset}).json()
        page = body["data"]
        assert body["extra"]["pagination"] == {"count": len(page), "total_count": 250}
        assert body["extra"]["filters"]["limit"] == 100
        seen += ids(page)
        offset += len(page)
        if len(page) < 100:
            break
    assert [len(seen[i : i + 100]) for i in range(0, 250, 100)] == [100, 100, 50]
    assert seen == sorted(seen) and len(set(seen)) == 250


def test_an_offset_past_the_end_is_an_empty_page(world):
    body = get(world, f"{V2}/runs/", {"offset": 500, "limit": 10}).json()
    assert body["status"]["code"] == 200 and body["data"] == []
    assert body["extra"]["pagination"] == {"count": 0, "total_count": 1}


@pytest.mark.parametrize("path", [f"{V2}/runs/", f"{V2}/jobs/", f"{V3}/projects/"])
def test_a_limit_over_100_is_refused_not_clamped(world, path):
    status = error_status(get(world, path, {"limit": 101}), 400)
    assert "limit" in status["user_message"]
    assert get(world, path, {"limit": 100}).status_code == 200


def test_runs_are_oldest_first_unless_ordered(world):
    world.add_run(RUN - 5, NIGHTLY, finished_at=datetime(2026, 9, 1, tzinfo=UTC))
    world.add_run(RUN + 5, NIGHTLY, finished_at=datetime(2026, 7, 1, tzinfo=UTC))
    assert ids(data(world, f"{V2}/runs/")) == [RUN - 5, RUN, RUN + 5]
    assert ids(data(world, f"{V2}/runs/", {"order_by": "-id"})) == [RUN + 5, RUN, RUN - 5]
    assert ids(data(world, f"{V2}/runs/", {"order_by": "finished_at"})) == [RUN + 5, RUN, RUN - 5]
    assert ids(data(world, f"{V2}/runs/", {"order_by": "-created_at"})) == [RUN - 5, RUN, RUN + 5]
    assert get(world, f"{V2}/runs/", {"order_by": "-id"}).json()["extra"]["order_by"] == "-id"


@pytest.mark.parametrize("order_by", ["status", "-started_at", "name", "id,status", "+id"])
def test_runs_refuse_other_orderings(world, order_by):
    error_status(get(world, f"{V2}/runs/", {"order_by": order_by}), 400)


def test_minus_finished_at_puts_unfinished_runs_first(world):
    world.add_run(RUN + 1, NIGHTLY, 3)  # running, finished_at NULL
    world.add_run(RUN + 2, NIGHTLY, 1)  # queued
    newest = data(world, f"{V2}/runs/", {"job_definition_id": NIGHTLY, "order_by": "-finished_at"})
    assert ids(newest) == [RUN + 1, RUN + 2, RUN]  # NULLs first, as PostgreSQL sorts DESC
    safe = data(
        world,
        f"{V2}/runs/",
        {"job_definition_id": NIGHTLY, "status": 10, "order_by": "-finished_at", "limit": 1},
    )
    assert ids(safe) == [RUN]
    assert ids(data(world, f"{V2}/runs/", {"order_by": "finished_at"}))[-2:] == [RUN + 1, RUN + 2]


# -- filters ---------------------------------------------------------------------------


def test_run_filters(world):
    world.add_run(RUN + 1, NIGHTLY, 20)
    world.add_run(RUN + 2, CI, 10)
    world.add_run(
        RUN + 3, NIGHTLY, 10, steps=[("Invoke dbt with `dbt build`", {"manifest.json": "{}"})]
    )

    def run_ids(**params):
        return ids(data(world, f"{V2}/runs/", params))

    everything = [RUN, RUN + 1, RUN + 2, RUN + 3]
    assert run_ids(job_definition_id=NIGHTLY) == [RUN, RUN + 1, RUN + 3]
    assert run_ids(job_id=NIGHTLY) == everything  # not a filter: ignored
    assert run_ids(status=20) == [RUN + 1]
    assert run_ids(status__in="[10, 30]") == [RUN, RUN + 2, RUN + 3]
    assert run_ids(has_docs_generated="true") == [RUN]
    assert run_ids(has_sources_generated="false") == [RUN + 1, RUN + 2, RUN + 3]
    assert run_ids(environment_id=STAGING) == [RUN + 2]
    assert run_ids(project_id=PROJECT) == everything
    assert run_ids(project_id__in=f"[{PROJECT + 1}]") == []
    assert run_ids(id__gt=RUN + 1) == [RUN + 2, RUN + 3]
    for bad in ({"status__in": "10,20"}, {"status": "done"}, {"has_docs_generated": "yes"}):
        error_status(get(world, f"{V2}/runs/", bad), 400)


def test_run_time_ranges_need_both_ends(world):
    inside = {"finished_at__range": '["2026-08-01 00:00:00", "2026-08-02 00:00:00"]'}
    assert ids(data(world, f"{V2}/runs/", inside)) == [RUN]
    outside = {"created_at__range": '["2026-09-01 00:00:00", "2026-09-02 00:00:00"]'}
    assert data(world, f"{V2}/runs/", outside) == []
    error_status(get(world, f"{V2}/runs/", {"created_at__range": '["2026-08-01", null]'}), 400)


@pytest.mark.parametrize(
    "state, expected",
    [
        (None, [NIGHTLY, CI]),
        ("active", [NIGHTLY, CI]),
        ("1", [NIGHTLY, CI]),
        ("deleted", [OLD]),
        ("2", [OLD]),
        ("all", [NIGHTLY, CI, OLD]),
    ],
)
def test_deleted_jobs_are_hidden_unless_asked_for(world, state, expected):
    params = {"state": state} if state else {}
    assert ids(data(world, f"{V2}/jobs/", params)) == expected


def test_job_filters(world):
    assert ids(data(world, f"{V2}/jobs/", {"environment_id": STAGING})) == [CI]
    assert ids(data(world, f"{V2}/jobs/", {"project_id": PROJECT + 9})) == []
    assert ids(data(world, f"{V2}/jobs/", {"name__icontains": "nIGHT"})) == [NIGHTLY]
    error_status(get(world, f"{V2}/jobs/", {"state": "gone"}), 400)


def test_environment_lists_v2_and_v3(world):
    v3 = data(world, f"{V3}/projects/{PROJECT}/environments/")
    assert ids(v3) == [PROD, STAGING, DEV] and "is_deferrable" in v3[0]
    dev = v3[2]
    assert dev["type"] == "development" and dev["deployment_type"] is None
    prod = data(world, f"{V3}/projects/{PROJECT}/environments/", {"deployment_type": "production"})
    assert ids(prod) == [PROD]
    assert ids(data(world, f"{V3}/projects/{PROJECT}/environments/", {"type": "deployment"})) == [
        PROD,
        STAGING,
    ]
    v2 = data(world, f"{V2}/environments/", {"project_id": PROJECT})
    assert ids(v2) == [PROD, STAGING, DEV] and "is_deferrable" not in v2[0]
    assert data(world, f"{V2}/environments/", {"project_id__in": "[1]"}) == []


# -- include_related ------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding",
    [
        "run_steps,job,trigger",
        '["run_steps","job","trigger"]',
        "['run_steps','job','trigger']",
        '["run_steps,job,trigger"]',
    ],
)
def test_include_related_accepts_the_three_encodings(world, encoding):
    run = data(world, f"{V2}/runs/{RUN}/", {"include_related": encoding})
    assert run["job"]["id"] == NIGHTLY
    assert (
        run["trigger"]["cause"] == "scheduled" and run["trigger"]["cause_category"] == "scheduled"
    )
    steps = [(s["index"], s["name"], s["status"]) for s in run["run_steps"]]
    assert steps == [
        (1, "Clone Git Repository", 10),
        (2, "Invoke dbt with `dbt source freshness`", 10),
        (3, "Invoke dbt with `dbt build`", 10),
        (4, "Invoke dbt with `dbt docs generate`", 10),
    ]
    assert run["run_steps"][0]["status_humanized"] == "Success"


def test_the_run_list_expands_job_and_trigger_but_not_steps(world):
    run = data(world, f"{V2}/runs/", {"include_related": "run_steps,job,trigger"})[0]
    assert run["job"]["id"] == NIGHTLY and run["trigger"] is not None
    assert run["run_steps"] == []


def test_a_failed_run_fails_on_its_last_step(world):
    world.add_jaffle_shop_run(RUN + 1, NIGHTLY, 20)
    steps = data(world, f"{V2}/runs/{RUN + 1}/", {"include_related": "run_steps"})["run_steps"]
    assert [s["status"] for s in steps] == [10, 10, 10, 20]


# -- redirects, tokens, not found --------------------------------------------------------


def test_a_path_without_its_slash_is_redirected_with_308(world):
    response = get(world, f"{V2}/runs", {"limit": 5}, allow_redirects=False)
    assert response.status_code == 308
    assert response.headers["Location"] == f"{V2}/runs/?limit=5"
    followed = get(world, f"{V2}/runs", {"limit": 5})
    assert followed.status_code == 200 and followed.history[0].status_code == 308
    artifact = get(world, f"{V2}/runs/{RUN}/artifacts/manifest.json", allow_redirects=False)
    assert artifact.status_code == 200  # artifact paths have no slash
    assert get(world, "/api/v2/nothing", allow_redirects=False).status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "dbtc_standin_token", "Token wrong", "Basic dbtc_standin_token", "Token"],
)
def test_anything_but_token_or_bearer_with_the_token_is_401(world, header):
    headers = {"Authorization": header} if header else {}
    status = error_status(get(world, f"{V2}/", headers=headers), 401)
    assert status["user_message"] == "Invalid token."


def test_bearer_is_as_good_as_token(world):
    headers = {"Authorization": f"Bearer {world.state.token}"}
    assert get(world, f"{V2}/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/accounts/1/",
        f"{V3}/projects/1/",
        f"{V3}/projects/1/environments/",
        f"{V2}/jobs/1/",
        f"{V2}/runs/1/",
        f"{V2}/runs/1/artifacts/manifest.json",
    ],
)
def test_unknown_objects_are_404_with_the_permissions_hint(world, path):
    assert error_status(get(world, path), 404)["user_message"] == NOT_FOUND


def test_an_account_or_project_the_token_may_not_see_is_404(world):
    world.add_account(ACCOUNT + 1, "Other", visible=False)
    error_status(get(world, f"/api/v2/accounts/{ACCOUNT + 1}/"), 404)
    error_status(get(world, f"/api/v2/accounts/{ACCOUNT + 1}/runs/"), 404)
    assert ids(data(world, "/api/v3/accounts/")) == [ACCOUNT]
    body = get(world, "/api/v3/accounts/").json()
    assert body["extra"]["filters"] == {"pk__in": [ACCOUNT]} and body["extra"]["order_by"] is None
    world.scope_token([PROJECT + 1])
    assert data(world, f"{V3}/projects/") == [] and data(world, f"{V2}/runs/") == []
    error_status(get(world, f"{V2}/runs/{RUN}/"), 404)


def test_other_methods_are_405_without_the_envelope(world):
    headers = {"Authorization": f"Token {world.state.token}"}
    response = requests.post(f"{world.url}{V2}/jobs/{NIGHTLY}/", headers=headers, timeout=10)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}


# -- artifacts ---------------------------------------------------------------------------


def artifact(standin, path, **params):
    return get(standin, f"{V2}/runs/{RUN}/artifacts/{path}", params)


def test_artifacts_are_raw_files_from_the_last_step_by_default(world):
    last = artifact(world, "run_results.json")
    assert last.status_code == 200 and "status" not in last.json()  # no envelope
    assert last.json()["args"]["which"] == "generate"  # the docs step's (§8.7 trap)
    build = artifact(world, "run_results.json", step=3)
    assert build.content == (FIXTURES / "run_results.json").read_bytes()
    assert artifact(world, "catalog.json").content == (FIXTURES / "catalog.json").read_bytes()
    assert (
        artifact(world, "manifest.json", step=3).json()["metadata"]["project_name"] == "jaffle_shop"
    )


def test_the_docs_step_run_results_are_compile_only(world):
    docs = artifact(world, "run_results.json").json()
    assert {r["status"] for r in docs["results"]} == {"success"}
    assert all([t["name"] for t in r["timing"]] == ["compile"] for r in docs["results"])
    assert not any(r["unique_id"].startswith("exposure.") for r in docs["results"])
    catalog = artifact(world, "catalog.json").json()
    assert docs["metadata"]["invocation_id"] == catalog["metadata"]["invocation_id"]


def test_a_file_missing_from_a_step_is_404(world):
    error_status(artifact(world, "sources.json"), 404)  # freshness was step 2, not the last
    assert (
        artifact(world, "sources.json", step=2).content == (FIXTURES / "sources.json").read_bytes()
    )
    error_status(artifact(world, "catalog.json", step=3), 404)
    error_status(artifact(world, "manifest.json", step=9), 404)
    error_status(artifact(world, "semantic_manifest.json"), 404)


def test_the_artifact_list_is_the_last_steps_and_null_when_empty(world):
    body = get(world, f"{V2}/runs/{RUN}/artifacts/").json()
    assert body["data"] == ["catalog.json", "manifest.json", "run_results.json"]
    assert "extra" not in body
    world.add_run(RUN + 1, NIGHTLY)  # steps without files
    assert get(world, f"{V2}/runs/{RUN + 1}/artifacts/").json()["data"] is None
    error_status(get(world, f"{V2}/runs/{RUN + 1}/artifacts/manifest.json"), 404)


def test_a_job_artifact_comes_from_its_newest_run_that_has_it(world):
    world.add_run(
        RUN + 1, NIGHTLY, steps=[("Invoke dbt with `dbt build`", {"manifest.json": {"v": 2}})]
    )
    path = f"{V2}/jobs/{NIGHTLY}/artifacts"
    assert get(world, f"{path}/manifest.json").json() == {"v": 2}
    assert get(world, f"{path}/catalog.json").content == (FIXTURES / "catalog.json").read_bytes()
    error_status(get(world, f"{path}/catalog.json", {"status": 20}), 404)


# -- faults ------------------------------------------------------------------------------


def test_fail_next_answers_429_with_or_without_retry_after(world):
    world.fail_next(r"/runs/$", 429, headers={"Retry-After": "300"})
    world.fail_next(r"/runs/$", 429)
    first = get(world, f"{V2}/runs/")
    assert first.status_code == 429 and first.headers["Retry-After"] == "300"
    assert first.json()["status"]["user_message"] == "Too many requests"
    second = get(world, f"{V2}/runs/")
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert get(world, f"{V2}/runs/").status_code == 200
    assert get(world, f"{V2}/").status_code == 200  # other paths untouched


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_gateway_errors_have_an_html_body(world, status):
    world.fail_next("/jobs/", status, times=2)
    for _ in range(2):
        response = get(world, f"{V2}/jobs/")
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            response.json()
    assert get(world, f"{V2}/jobs/").status_code == 200


def test_fail_next_takes_a_body(world):
    world.fail_next("/jobs/", 503, body="upstream connect error")
    assert get(world, f"{V2}/jobs/").text == "upstream connect error"


def test_delay_next_makes_a_client_time_out(world):
    world.delay_next(r"/runs/$", 30)
    with pytest.raises(requests.ReadTimeout):
        requests.get(
            f"{world.url}{V2}/runs/",
            headers={"Authorization": f"Token {world.state.token}"},
            timeout=0.3,
        )
    assert get(world, f"{V2}/runs/").status_code == 200


def test_truncate_next_sends_syntactically_broken_json(world):
    world.truncate_next("/manifest.json$", 1000)
    response = artifact(world, "manifest.json")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) == 1000
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert len(artifact(world, "manifest.json").content) > 1000


def test_requests_are_recorded(world):
    get(world, f"{V2}/runs/", {"job_definition_id": NIGHTLY})
    call = world.requests_to(r"/runs/$")[-1]
    assert call["path"] == f"{V2}/runs/" and call["query"] == {"job_definition_id": [str(NIGHTLY)]}
    assert call["authorization"] == f"Token {world.state.token}"
