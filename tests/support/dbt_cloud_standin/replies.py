"""What the stand-in answers with: the envelope (reference §4, §11) and injected faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .state import Fault

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


def fault_reply(fault: Fault) -> Reply:
    body, headers = fault.body, dict(fault.headers)
    phrase = HTTPStatus(fault.status).phrase
    if body is None and fault.status >= 500:
        # Gateways answer with their own HTML, not the envelope (reference §11.6).
        title = f"{fault.status} {phrase}"
        body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
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
