"""The HTTP side: routing, the envelope, token checks, redirects and injected faults."""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import queries as q
from .objects import ENVIRONMENT_V3_ONLY, run_json
from .state import Fault, RunRow, StandinState

NOT_FOUND = (
    "The requested resource was not found. Please check that you have the proper permissions."
)


def envelope(data: Any, *, code: int = 200, message: str = "Success!") -> dict[str, Any]:
    return {
        "status": {
            "code": code,
            "is_success": code < 400,
            "user_message": message,
            "developer_message": "" if code < 400 else None,
        },
        "data": data,
    }


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(body: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode())


def error_reply(status: int, message: str) -> Reply:
    return json_reply(envelope(None, code=status, message=message), status)


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
        return q.include_related(self.query)

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
    return {
        **project,
        "connection": None,
        "repository": None,
        "group_permissions": [],
        "docs_job": jobs.get(project["docs_job_id"]) if "docs_job" in related else None,
        "freshness_job": (
            jobs.get(project["freshness_job_id"]) if "freshness_job" in related else None
        ),
        **(
            {
                "environments": [
                    e for e in call.state.environments.values() if e["project_id"] == project["id"]
                ]
            }
            if "environments" in related
            else {}
        ),
    }


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


def answer(state: StandinState, method: str, url: str, auth: str, base_url: str) -> Reply:
    parts = urlsplit(url)
    path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
    route = resolve(path)
    if route is None:
        if not path.endswith("/") and resolve(path + "/"):
            # dbt Cloud redirects a documented path without its trailing slash (§1.5).
            location = path + "/" + (f"?{parts.query}" if parts.query else "")
            return Reply(308, b"", "text/html; charset=utf-8", {"Location": location})
        return Reply(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")  # Django's own
    scheme, _, token = auth.partition(" ")
    if scheme.lower() not in ("token", "bearer") or token != state.token:
        return error_reply(401, "Invalid token.")
    if method != "GET":
        return json_reply({"detail": f'Method "{method}" not allowed.'}, 405)  # DRF, no envelope
    handler, match = route
    groups = match.groupdict()
    artifact = groups.pop("artifact", None)
    ids = {key: int(value) for key, value in groups.items()}
    with state.lock:
        if "account" in ids and not state.account_visible(ids["account"]):
            return error_reply(404, NOT_FOUND)
        call = Call(state, ids, unquote(artifact) if artifact else None, query, base_url)
        try:
            return handler(call)
        except q.BadRequest as exc:
            return error_reply(400, str(exc))
        except NotFound:
            return error_reply(404, NOT_FOUND)
        except Exception:  # a stand-in bug: say so rather than drop the connection
            return Reply(500, traceback.format_exc().encode(), "text/plain; charset=utf-8")


def fault_reply(fault: Fault) -> Reply:
    body, headers = fault.body, dict(fault.headers)
    phrase = HTTPStatus(fault.status).phrase
    if body is None and fault.status >= 500:
        # Gateways answer with their own HTML, not the envelope (reference §11.6).
        body = f"<html><head><title>{fault.status} {phrase}</title></head><body><h1>{fault.status} {phrase}</h1></body></html>"
    elif body is None:
        body = envelope(
            None, code=fault.status, message="Too many requests" if fault.status == 429 else phrase
        )
    if isinstance(body, dict | list):
        reply = Reply(fault.status, json.dumps(body).encode())
    else:
        raw = body.encode() if isinstance(body, str) else body
        reply = Reply(fault.status, raw, "text/html; charset=utf-8")
    reply.content_type = headers.pop("Content-Type", reply.content_type)
    reply.headers = headers
    return reply


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def handle_any(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        with state.lock:
            state.requests.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query, keep_blank_values=True),
                    "authorization": self.headers.get("Authorization", ""),
                    "accept": self.headers.get("Accept"),
                }
            )
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        delay = state.take_fault("delay", parts.path)
        if delay and self.server.stopping.wait(delay.seconds):
            return  # the stand-in is stopping
        fail = state.take_fault("fail", parts.path)
        if fail:
            reply = fault_reply(fail)
        else:
            auth = self.headers.get("Authorization", "")
            reply = answer(state, self.command, self.path, auth, self.server.url)
        truncate = state.take_fault("truncate", parts.path)
        if truncate:
            # Content-Length matches the cut body: the client gets a clean but broken JSON.
            reply.body = reply.body[: truncate.keep_bytes]
        self.send_reply(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any  # noqa: N815

    def send_reply(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: StandinState) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up
            super().handle_error(request, client_address)
