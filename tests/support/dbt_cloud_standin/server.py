"""The HTTP side: routing, token checks, trailing-slash redirects and injected faults."""

from __future__ import annotations

import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import queries as q
from .endpoints import Call, NotFound, resolve
from .replies import NOT_FOUND, Reply, error_reply, fault_reply, json_reply
from .state import StandinState


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
        stall = state.take_fault("stall", parts.path)
        self.send_reply(reply, stall)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any  # noqa: N815

    def send_reply(self, reply: Reply, stall: Any = None) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if stall is not None:
                # Headers and the first bytes go out, then the body stops for a while.
                self.wfile.write(reply.body[: stall.keep_bytes])
                self.wfile.flush()
                if self.server.stopping.wait(stall.seconds):
                    return
                self.wfile.write(reply.body[stall.keep_bytes :])
            else:
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
