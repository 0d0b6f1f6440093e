"""Real PostgreSQL databases for tests: the shared server, and a private cluster with
password authentication (the shared one trusts every local connection)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
JAFFLE_SHOP_SQL = FIXTURES / "jaffle_shop" / "warehouse.sql"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str = ""

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            autocommit=True,
            **kwargs,
        )

    def integration_config(self, dbname: str, **overrides) -> dict:
        config = {
            "host": self.host,
            "port": self.port,
            "database": dbname,
            "user": self.user,
            "password": self.password,
            "sslmode": "disable",
        }
        config.update(overrides)
        return config

    def create_database(self, prefix: str = "wh") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restore(self, dbname: str, sql_file: Path = JAFFLE_SHOP_SQL) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname,
                "-f",
                str(sql_file),
            ],
            check=True,
            env=env,
            capture_output=True,
        )


def shared_server() -> Server:
    return Server(
        host=os.environ.get("TEST_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("TEST_PG_PORT", "5432")),
        user=os.environ.get("TEST_PG_USER", "postgres"),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return str(found[-1])


class PrivateCluster:
    """A throwaway PostgreSQL server that checks passwords (scram-sha-256)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgpw-"))
        self.port = free_port()
        self.password = uuid.uuid4().hex
        self.server = Server("127.0.0.1", self.port, "postgres", self.password)

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.dir, "postgres")
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self) -> Server:
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password)
        data = self.dir / "data"
        os.chmod(self.dir, 0o700)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres")
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(self.dir / "log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )
        return self.server

    def stop(self) -> None:
        try:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
