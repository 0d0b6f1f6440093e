"""A stand-in dbt Cloud Administrative API: a real HTTP server on 127.0.0.1 that follows
../shared/reference/dbt-cloud-api.md (envelope, trailing-slash redirects, token checks,
pagination limits). It serves what a test puts in its `accounts` state."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT_PATH = re.compile(r"^/api/v2/accounts/(?P<account>\d+)/$")


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
class StandinState:
    token: str = "dbtc_standin_token"
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        parts = urlsplit(self.path)
        state.requests.append(
            {
                "path": parts.path,
                "query": parse_qs(parts.query),
                "authorization": self.headers.get("Authorization", ""),
            }
        )
        if not parts.path.endswith("/") and "/artifacts/" not in parts.path:
            # dbt Cloud redirects a path without its trailing slash (reference §1.5).
            self.send_response(308)
            self.send_header(
                "Location", parts.path + "/" + (f"?{parts.query}" if parts.query else "")
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        auth = self.headers.get("Authorization", "")
        if auth not in (f"Token {state.token}", f"Bearer {state.token}"):
            self._send(401, envelope(None, code=401, message="Invalid token."))
            return
        match = ACCOUNT_PATH.match(parts.path)
        if match and int(match["account"]) in state.accounts:
            self._send(200, envelope(state.accounts[int(match["account"])]))
            return
        self._send(
            404,
            envelope(
                None,
                code=404,
                message="The requested resource was not found. "
                "Please check that you have the proper permissions.",
            ),
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StandinState


class DbtCloudStandin:
    def __init__(self, state: StandinState | None = None) -> None:
        self.state = state or StandinState()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DbtCloudStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_account(self, account_id: int, name: str) -> None:
        self.state.accounts[account_id] = {
            "id": account_id,
            "name": name,
            "state": 1,
            "plan": "enterprise",
            "static_subdomain": "ab123",
            "vanity_subdomain": None,
            "created_at": "2025-01-02T10:11:12.123456+00:00",
            "updated_at": "2026-08-01T05:00:00.000000+00:00",
        }
