"""An attacker's server for token-leak tests: real HTTPS on 127.0.0.1, with a certificate of
its own that a test makes `requests` trust (REQUESTS_CA_BUNDLE), as a real attacker's host
would have one a public CA signed. It answers every GET like dbt Cloud's account endpoint (or
an empty list endpoint), so that a leaking client goes on as if connected, and records every
connection and request."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.record(self)
        account = re.search(r"/accounts/\d+/$", self.path.split("?")[0])
        data = {"id": 7, "name": "Not dbt"} if account else []  # a list endpoint, empty
        body = json.dumps({"data": data, "status": {"code": 200}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[dict] = []

    def get_request(self):
        sock, address = super().get_request()
        with self.lock:
            self.connections += 1
        return sock, address

    def finish_request(self, request, client_address) -> None:
        # The handshake in the connection's own thread: a client that gives up on TLS
        # does not stall the accept loop.
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(
                {"method": handler.command, "path": handler.path, "headers": dict(handler.headers)}
            )


class CapturingServer:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="capture-")
        self.ca_file, key_file = _self_signed(Path(self._dir.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._server = _Server(context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> CapturingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._server.lock:
            return self._server.connections

    @property
    def requests(self) -> list[dict]:
        with self._server.lock:
            return list(self._server.requests)

    def tokens_received(self) -> list[str]:
        return [
            value
            for request in self.requests
            for name, value in request["headers"].items()
            if name.lower() == "authorization"
        ]
