"""The documented endpoints (reference §7–§8.7): one function per path, and ROUTES."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import queries as q
from .objects import ENVIRONMENT_V3_ONLY, deactivated, run_json
from .replies import NOT_FOUND, Reply, envelope, error_reply, json_reply
from .state import RunRow, StandinState


class NotFound(Exception):
    pass


@dataclass
class Call:
    state: StandinState
    ids: dict[str, int]
    artifact: str | None
    query: dict[str, list[str]]
    base_url: str

    @property
    def related(self) -> set[str]:
        return q.include_related(self.query) - self.state.ignored_related

    def get(self, table: dict[int, Any], key: str) -> Any:
        row = table.get(self.ids[key])
        account = self.ids["account"]
        project_key = "id" if key == "project" else "project_id"
        if row is None or not self.state.visible([row], account, project_key):
            raise NotFound
        return row

    def run(self, row: RunRow, allowed: set[str]) -> dict[str, Any]:
        return run_json(self.state, row, base_url=self.base_url, related=self.related & allowed)


def project_out(call: Call, project: dict[str, Any]) -> dict[str, Any]:
    jobs, related = call.state.jobs, call.related
    out = {
        **project,
        "connection": None,
        "repository": None,
        "group_permissions": [],
        "docs_job": jobs.get(project["docs_job_id"]) if "docs_job" in related else None,
        "freshness_job": (
            jobs.get(project["freshness_job_id"]) if "freshness_job" in related else None
        ),
    }
    if "environments" in related:
        environments = call.state.environments.values()
        out["environments"] = [e for e in environments if e["project_id"] == project["id"]]
    return out


def job_out(call: Call, job: dict[str, Any]) -> dict[str, Any]:
    related, extra = call.related, {}
    if "environment" in related:
        extra["environment"] = call.state.environments.get(job["environment_id"])
    runs = sorted(
        (r for r in call.state.runs.values() if r.job_definition_id == job["id"]),
        key=lambda r: r.id,
    )
    for name, candidates in (
        ("most_recent_run", runs),
        ("most_recent_completed_run", [r for r in runs if r.finished_at]),
    ):
        if name in related:
            extra[name] = call.run(candidates[-1], set()) if candidates else None
    if call.state.send_deactivated:
        extra["deactivated"] = deactivated(job)
    return {**job, **extra}


def account_list(call: Call) -> Reply:
    state = call.state
    ids = sorted(a for a in state.accounts if state.account_visible(a))
    body = q.list_body(
        [state.accounts[a] for a in ids], call.query, filters={}, echo={}, state_default=None
    )
    # Recorded account lists echo only the token's accounts and no ordering (§4.2).
    body["extra"].update(filters={"pk__in": ids}, order_by=None)
    return json_reply({**envelope(body["data"]), "extra": body["extra"]})


def listing(call: Call, rows: Any, **options: Any) -> Reply:
    body = q.list_body(list(rows), call.query, **options)
    return json_reply({**envelope(body["data"]), "extra": body["extra"]})


def project_list(call: Call) -> Reply:
    a = call.ids["account"]
    return listing(
        call,
        call.state.visible(call.state.projects.values(), a, "id"),
        filters=q.PROJECT_FILTERS,
        echo={"account_id": a},
        state_default="active",
        serialize=lambda p: project_out(call, p),
    )


def project_environments(call: Call) -> Reply:
    project = call.get(call.state.projects, "project")
    rows = [e for e in call.state.environments.values() if e["project_id"] == project["id"]]
    return listing(
        call,
        rows,
        filters=q.ENVIRONMENT_V3_FILTERS,
        echo={"account_id": call.ids["account"], "project_id": project["id"]},
        state_default="active",
    )


def environment_list(call: Call) -> Reply:
    a = call.ids["account"]
    return listing(
        call,
        call.state.visible(call.state.environments.values(), a),
        filters=q.ENVIRONMENT_V2_FILTERS,
        echo={"account_id": a},
        state_default="active",
        serialize=lambda e: {k: v for k, v in e.items() if k not in ENVIRONMENT_V3_ONLY},
    )


def job_list(call: Call) -> Reply:
    a = call.ids["account"]
    return listing(
        call,
        call.state.visible(call.state.jobs.values(), a),
        filters=q.JOB_FILTERS,
        echo={"account_id": a},
        state_default="active",
        serialize=lambda job: job_out(call, job),
    )


def run_list(call: Call) -> Reply:
    a = call.ids["account"]
    return listing(
        call,
        call.state.visible(call.state.runs.values(), a),
        filters=q.RUN_FILTERS,
        echo={"account_id": a},
        state_default="all",
        stateful=False,
        orders=q.RUN_ORDERS,
        serialize=lambda run: call.run(run, {"trigger", "job"}),
    )


def step_file(run: RunRow, path: str, query: dict[str, list[str]]) -> bytes | None:
    """No `step`: the run's last step (reference §8.7); artifacts are stored per step."""
    raw_step = q.single_values(query).get("step")
    index = len(run.steps) if raw_step is None else q.parse_int(raw_step)
    if not run.artifacts_saved or not 1 <= index <= len(run.steps):
        return None
    return run.steps[index - 1].artifacts.get(path)


def file_reply(path: str, body: bytes | None) -> Reply:
    if body is None:
        return error_reply(404, NOT_FOUND)
    if path.endswith(".json"):
        kind = "application/json"
    elif path.endswith(".parquet"):
        kind = "application/x-parquet"
    else:
        kind = "text/plain; charset=utf-8"
    return Reply(200, body, kind)  # the raw file, no envelope (§8.7)


def run_artifact(call: Call) -> Reply:
    run = call.get(call.state.runs, "run")
    return file_reply(call.artifact, step_file(run, call.artifact, call.query))


def run_artifact_list(call: Call) -> Reply:
    run = call.get(call.state.runs, "run")
    last = run.steps[-1].artifacts if run.artifacts_saved and run.steps else {}
    # No `extra`; `data` is null, not [], when there is nothing (§8.6).
    return json_reply(envelope(sorted(last) or None))


def job_artifact(call: Call) -> Reply:
    """The file from the newest run of the job, among runs matching the run filters
    sent, that has it (§8.7: "the latest matching artifact"; [inferred] details)."""
    job = call.get(call.state.jobs, "job")
    params = q.single_values(call.query)
    runs = [r for r in call.state.runs.values() if r.job_definition_id == job["id"]]
    runs = q.apply_filters(runs, params, q.RUN_FILTERS, {})
    for run in sorted(runs, key=lambda r: r.id, reverse=True):
        body = step_file(run, call.artifact, call.query)
        if body is not None:
            return file_reply(call.artifact, body)
    return error_reply(404, NOT_FOUND)


def account_detail(call: Call) -> Reply:
    return json_reply(envelope(call.state.accounts[call.ids["account"]]))


def project_detail(call: Call) -> Reply:
    return json_reply(envelope(project_out(call, call.get(call.state.projects, "project"))))


def job_detail(call: Call) -> Reply:
    return json_reply(envelope(job_out(call, call.get(call.state.jobs, "job"))))


def run_detail(call: Call) -> Reply:
    row = call.get(call.state.runs, "run")
    return json_reply(envelope(call.run(row, {"trigger", "job", "environment", "run_steps"})))


V2 = r"^/api/v2/accounts/(?P<account>\d+)"
V3 = r"^/api/v3/accounts/(?P<account>\d+)"
ROUTES: list[tuple[re.Pattern[str], Callable[[Call], Reply]]] = [
    (re.compile(pattern), handler)
    for pattern, handler in [
        (r"^/api/v3/accounts/$", account_list),
        (V2 + r"/$", account_detail),
        (V3 + r"/projects/$", project_list),
        (V3 + r"/projects/(?P<project>\d+)/$", project_detail),
        (V3 + r"/projects/(?P<project>\d+)/environments/$", project_environments),
        (V2 + r"/environments/$", environment_list),
        (V2 + r"/jobs/$", job_list),
        (V2 + r"/jobs/(?P<job>\d+)/$", job_detail),
        (V2 + r"/jobs/(?P<job>\d+)/artifacts/(?P<artifact>.+)$", job_artifact),
        (V2 + r"/runs/$", run_list),
        (V2 + r"/runs/(?P<run>\d+)/$", run_detail),
        (V2 + r"/runs/(?P<run>\d+)/artifacts/$", run_artifact_list),
        (V2 + r"/runs/(?P<run>\d+)/artifacts/(?P<artifact>.+)$", run_artifact),
    ]
]


def resolve(path: str) -> tuple[Callable[[Call], Reply], re.Match[str]] | None:
    for pattern, handler in ROUTES:
        match = pattern.match(path)
        if match:
            return handler, match
    return None
