"""A fake PostgreSQL server that asks for the password in clear and keeps what it gets.

It speaks the real frontend/backend protocol (version 3.0) as far as a login goes: it answers
'N' to an SSLRequest or GSSENCRequest, reads the StartupMessage, replies
AuthenticationCleartextPassword (R, code 3), records the PasswordMessage ('p') and then sends a
FATAL ErrorResponse (28P01), as a server run by someone collecting passwords would. Every
connection and every password is recorded, so a test can show that a stored password was, or
was not, sent to it.

    with PasswordCapturingPostgres(host="127.0.0.2") as fake:
        ...  # point an integration at fake.host, fake.port
        assert fake.passwords == [] and fake.connections == 0
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
PROTOCOL_3 = 196608
AUTH_CLEARTEXT = 3


@dataclass
class Captured:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    startups: list[dict[str, str]] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client hung up")
        data += chunk
    return data


def _startup_packet(sock: socket.socket) -> tuple[int, bytes]:
    """(code, body) of an untyped startup-phase packet: int32 length, int32 code, body."""
    length, code = struct.unpack("!ii", _read_exactly(sock, 8))
    return code, _read_exactly(sock, length - 8)


def _parameters(body: bytes) -> dict[str, str]:
    parts = body.split(b"\0")
    pairs = zip(parts[0::2], parts[1::2], strict=False)
    return {key.decode(): value.decode() for key, value in pairs if key}


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _error_response(user: str) -> bytes:
    fields = [
        (b"S", b"FATAL"),
        (b"V", b"FATAL"),
        (b"C", b"28P01"),
        (b"M", f'password authentication failed for user "{user}"'.encode()),
    ]
    payload = b"".join(code + value + b"\0" for code, value in fields) + b"\0"
    return _message(b"E", payload)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        captured = self.server.captured
        with captured.lock:
            captured.connections += 1
        self.request.settimeout(10)
        try:
            self.converse(self.request, captured)
        except (ConnectionError, OSError, struct.error):
            return

    def converse(self, sock: socket.socket, captured: Captured) -> None:
        raise NotImplementedError


class _PostgresHandler(_Handler):
    def converse(self, sock: socket.socket, captured: Captured) -> None:
        code, body = _startup_packet(sock)
        while code in (SSL_REQUEST, GSSENC_REQUEST):
            sock.sendall(b"N")  # no encryption: the client goes on in clear
            code, body = _startup_packet(sock)
        if code != PROTOCOL_3:
            return
        params = _parameters(body)
        with captured.lock:
            captured.startups.append(params)
        sock.sendall(_message(b"R", struct.pack("!i", AUTH_CLEARTEXT)))
        kind = _read_exactly(sock, 1)
        (length,) = struct.unpack("!i", _read_exactly(sock, 4))
        payload = _read_exactly(sock, length - 4)
        if kind == b"p":
            with captured.lock:
                captured.passwords.append(payload.rstrip(b"\0").decode())
        sock.sendall(_error_response(params.get("user", "")))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.captured = Captured()


class PasswordCapturingServer:
    """Listens on host (any loopback address works on Linux) and a free port; what clients
    send is in `connections`, `startups` and `passwords`."""

    handler: type[_Handler]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = _Server((host, port), self.handler)
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def connections(self) -> int:
        with self.server.captured.lock:
            return self.server.captured.connections

    @property
    def passwords(self) -> list[str]:
        with self.server.captured.lock:
            return list(self.server.captured.passwords)

    @property
    def startups(self) -> list[dict[str, str]]:
        with self.server.captured.lock:
            return list(self.server.captured.startups)

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PasswordCapturingPostgres(PasswordCapturingServer):
    handler = _PostgresHandler
