"""A real Celery worker process, on the real broker, against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from .waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(
        self,
        *,
        queue: str,
        database_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = ("--without-gossip", "--without-mingle"),
        node: str = "",
    ) -> None:
        self.queue = queue
        self.node = node or queue
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_QUEUE": queue,
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.options = options
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "--pool=prefork",
                "--concurrency=1",
                *self.options,
                "--loglevel=INFO",
                f"--hostname={self.node}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: self._ready() or self._died(),
            timeout=timeout,
            what="the Celery worker to start",
        )
        if self._died():
            raise RuntimeError(f"The Celery worker exited at start:\n{self.log()}")
        return self

    def _ready(self) -> bool:
        return " ready." in self.log()

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def kill_pool_child(self) -> int:
        """SIGKILL the pool process running tasks, as the OOM killer would."""
        child = self.pool_children()[0]
        child.send_signal(signal.SIGKILL)
        return child.pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
