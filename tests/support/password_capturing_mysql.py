"""A fake MySQL server that asks for the password in clear and keeps what it gets.

It speaks the real client/server protocol as far as a login goes: a HandshakeV10 offering
mysql_native_password (no SSL), then, on the client's HandshakeResponse41, an
AuthSwitchRequest to mysql_clear_password, the plugin that makes a client send the password
itself (PyMySQL does, as MySQL's own client does with --enable-cleartext-plugin). It records
the password and answers ERR 1045 (access denied).

    with PasswordCapturingMySQL(host="127.0.0.2") as fake:
        ...
        assert fake.passwords == []
"""

from __future__ import annotations

import socket
import struct

from .password_capturing_pg import Captured, PasswordCapturingServer, _Handler, _read_exactly

CLIENT_LONG_PASSWORD = 0x1
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CAPABILITIES = (
    CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
)
UTF8MB4 = 45
ER_ACCESS_DENIED = 1045


def _packet(sequence: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    header = _read_exactly(sock, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], _read_exactly(sock, length)


def _handshake() -> bytes:
    scramble = b"abcdefghijklmnopqrst"  # 20 bytes; a fake needs no randomness
    return (
        b"\x0a"
        + b"8.0.36-password-capturing\0"
        + struct.pack("<I", 1)
        + scramble[:8]
        + b"\0"
        + struct.pack("<H", CAPABILITIES & 0xFFFF)
        + bytes([UTF8MB4])
        + struct.pack("<H", 2)  # SERVER_STATUS_AUTOCOMMIT
        + struct.pack("<H", CAPABILITIES >> 16)
        + bytes([len(scramble) + 1])
        + b"\0" * 10
        + scramble[8:]
        + b"\0"
        + b"mysql_native_password\0"
    )


def _user_of(response: bytes) -> str:
    # HandshakeResponse41: capabilities (4), max packet (4), charset (1), filler (23), user\0
    return response[32:].split(b"\0", 1)[0].decode(errors="replace")


def _error(user: str) -> bytes:
    message = f"Access denied for user '{user}'@'localhost' (using password: YES)"
    return b"\xff" + struct.pack("<H", ER_ACCESS_DENIED) + b"#28000" + message.encode()


class _MySQLHandler(_Handler):
    def converse(self, sock: socket.socket, captured: Captured) -> None:
        sock.sendall(_packet(0, _handshake()))
        sequence, response = _read_packet(sock)
        user = _user_of(response)
        with captured.lock:
            captured.startups.append({"user": user})
        sock.sendall(_packet(sequence + 1, b"\xfe" + b"mysql_clear_password\0"))
        sequence, password = _read_packet(sock)
        with captured.lock:
            captured.passwords.append(password.rstrip(b"\0").decode())
        sock.sendall(_packet(sequence + 1, _error(user)))


class PasswordCapturingMySQL(PasswordCapturingServer):
    handler = _MySQLHandler
