"""A local stand-in for the BigQuery REST API v2, enough for the metadata the connector reads.

A real HTTP server on 127.0.0.1 (stdlib, in a thread) answering what google-cloud-bigquery
3.x sends (each with `?prettyPrint=false`, list calls with `pageToken` and `maxResults`):

    GET /bigquery/v2/projects/{project}/datasets                      datasets.list
    GET /bigquery/v2/projects/{project}/datasets/{dataset}            datasets.get
    GET /bigquery/v2/projects/{project}/datasets/{dataset}/tables     tables.list
    GET /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{t} tables.get

Lists page at `page_size` items unless the client asks for fewer; the page token is the
offset. Errors have BigQuery's JSON body. Point a client at it with
`client_options={"api_endpoint": standin.url}` and AnonymousCredentials; the stand-in checks
no credentials.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/bigquery/v2/projects/"
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
REASONS = {
    401: "authError",
    403: "accessDenied",
    404: "notFound",
    500: "backendError",
    503: "backendError",
}


def millis(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [
                {"message": message, "domain": "global", "reason": REASONS.get(status, "error")}
            ],
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def field_json(
    name: str,
    type_: str = "STRING",
    mode: str = "NULLABLE",
    description: str | None = None,
    fields: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A schema field as the API returns it (legacy type names: INTEGER, RECORD...)."""
    result: dict[str, Any] = {"name": name, "type": type_, "mode": mode, **extra}
    if description is not None:
        result["description"] = description
    if fields is not None:
        result["fields"] = fields
    return result


@dataclass
class Fault:
    """Answer the next `times` requests whose path contains `path_part` with this error."""

    path_part: str
    status: int
    message: str = "Backend error"
    times: int = 1


@dataclass
class StandinState:
    # project -> dataset id -> {"resource": dict, "tables": {table id: resource}}
    projects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # "project", "project/dataset" or "project/dataset/table": answered with 403
    denied: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    page_size: int = 50
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class BigQueryStandin:
    def __init__(self) -> None:
        self.state = StandinState()
        self.server = _Server(self.state)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BigQueryStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> BigQueryStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the world -----------------------------------------------------------------

    def add_project(self, project: str) -> None:
        with self.state.lock:
            self.state.projects.setdefault(project, {})

    def add_dataset(
        self,
        project: str,
        dataset: str,
        *,
        description: str | None = None,
        location: str = "US",
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "bigquery#dataset",
            "id": f"{project}:{dataset}",
            "datasetReference": {"projectId": project, "datasetId": dataset},
            "location": location,
            "creationTime": "1735689600000",
            "lastModifiedTime": "1735689600000",
        }
        if description is not None:
            resource["description"] = description
        if labels:
            resource["labels"] = labels
        with self.state.lock:
            self.state.projects.setdefault(project, {})[dataset] = {
                "resource": resource,
                "tables": {},
            }
        return resource

    def add_table(
        self,
        project: str,
        dataset: str,
        table: str,
        *,
        type_: str = "TABLE",
        fields: list[dict[str, Any]] | None = None,
        description: str | None = None,
        num_rows: int | None = None,
        num_bytes: int | None = None,
        modified: datetime | None = None,
        view_query: str | None = None,
        mview_query: str | None = None,
        labels: dict[str, str] | None = None,
        time_partitioning: dict[str, Any] | None = None,
        clustering: list[str] | None = None,
        table_constraints: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        modified = modified or datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        resource: dict[str, Any] = {
            "kind": "bigquery#table",
            "id": f"{project}:{dataset}.{table}",
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "type": type_,
            "schema": {"fields": fields or []},
            "creationTime": millis(modified),
            "lastModifiedTime": millis(modified),
            "location": "US",
        }
        if description is not None:
            resource["description"] = description
        if type_ != "VIEW":
            # The API sends int64 values as JSON strings.
            resource["numRows"] = str(num_rows or 0)
            resource["numBytes"] = str(num_bytes or 0)
        if view_query is not None:
            resource["view"] = {"query": view_query, "useLegacySql": False}
        if mview_query is not None:
            resource["materializedView"] = {"query": mview_query, "enableRefresh": True}
        if labels:
            resource["labels"] = labels
        if time_partitioning:
            resource["timePartitioning"] = time_partitioning
        if clustering:
            resource["clustering"] = {"fields": clustering}
        if table_constraints:
            resource["tableConstraints"] = table_constraints
        with self.state.lock:
            self.state.projects[project][dataset]["tables"][table] = resource
        return resource

    def deny(self, path: str) -> None:
        """403 for "project", "project/dataset" or "project/dataset/table"."""
        with self.state.lock:
            self.state.denied.add(path)

    def fail(self, path_part: str, status: int, message: str = "Backend error", times=1):
        with self.state.lock:
            self.state.faults.append(Fault(path_part, status, message, times))

    def paths(self) -> list[str]:
        with self.state.lock:
            return [r["path"] for r in self.state.requests]


# -- the HTTP side -----------------------------------------------------------------------


def _page(items: list[dict], key: str, query: dict[str, list[str]], page_size: int) -> dict:
    start = int(query.get("pageToken", ["0"])[0] or 0)
    size = min(int(query.get("maxResults", [page_size])[0]), page_size)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return body


def _list_item(table: dict[str, Any]) -> dict[str, Any]:
    keep = ("kind", "id", "tableReference", "type", "creationTime", "labels")
    item = {k: table[k] for k in keep if k in table}
    for key in ("timePartitioning", "clustering"):
        if key in table:
            item[key] = table[key]
    if "view" in table:
        item["view"] = {"useLegacySql": False}
    return item


def answer(state: StandinState, path: str, query: dict[str, list[str]]) -> tuple[int, dict]:
    if not path.startswith(PREFIX):
        return 404, error_body(404, f"Not found: URL {path}")
    parts = [unquote(p) for p in path[len(PREFIX) :].split("/")]
    project = parts[0]
    for depth, what in ((1, "Project"), (3, "Dataset"), (5, "Table")):
        key = "/".join(parts[:depth:2])
        if len(parts) >= depth and key in state.denied:
            return 403, error_body(
                403,
                f"Access Denied: {what} {key.replace('/', ':', 1).replace('/', '.')}: "
                "User does not have permission to read it.",
            )
    if project not in state.projects:
        return 404, error_body(404, f"Not found: Project {project}")
    datasets = state.projects[project]
    if parts[1:2] != ["datasets"] or len(parts) > 5:
        return 404, error_body(404, f"Not found: URL {path}")
    if len(parts) == 2:
        items = [
            {k: d["resource"][k] for k in ("kind", "id", "datasetReference", "location")}
            for _, d in sorted(datasets.items())
        ]
        return 200, {
            "kind": "bigquery#datasetList",
            **_page(items, "datasets", query, state.page_size),
        }
    dataset = datasets.get(parts[2])
    if dataset is None:
        return 404, error_body(404, f"Not found: Dataset {project}:{parts[2]}")
    if len(parts) == 3:
        return 200, dataset["resource"]
    if parts[3] != "tables":
        return 404, error_body(404, f"Not found: URL {path}")
    tables = dataset["tables"]
    if len(parts) == 4:
        items = [_list_item(t) for _, t in sorted(tables.items())]
        body = _page(items, "tables", query, state.page_size)
        return 200, {"kind": "bigquery#tableList", "totalItems": len(items), **body}
    table = tables.get(parts[4])
    if table is None:
        return 404, error_body(404, f"Not found: Table {project}:{parts[2]}.{parts[4]}")
    return 200, table


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with state.lock:
            state.requests.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": query,
                    "authorization": self.headers.get("Authorization", ""),
                }
            )
            fault = next((f for f in state.faults if f.path_part in parts.path), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.remove(fault)
                status, body = fault.status, error_body(fault.status, fault.message)
            else:
                status, body = answer(state, parts.path, query)
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: StandinState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
