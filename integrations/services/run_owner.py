"""Who runs a sync: the identity of the worker process that claimed it, and whether that
process is still there. A heartbeat only says a worker was alive a while ago; the identity
lets a dead owner be noticed at once, so its run is taken over without waiting."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import psutil
from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    node: str  # the Celery worker's name, e.g. "w1@host"
    machine: str
    pid: int
    # The process's start time: a pid reused by another process is not the owner.
    started: float

    def __str__(self) -> str:
        return f"{self.node}|{self.machine}|{self.pid}|{self.started:.2f}"

    @classmethod
    def parse(cls, value: str) -> Owner | None:
        parts = (value or "").rsplit("|", 3)
        if len(parts) != 4:
            return None
        node, machine, pid, started = parts
        try:
            return cls(node, machine, int(pid), float(started))
        except ValueError:
            return None


def current_owner(node: str) -> Owner:
    """This process, as the owner of the run it is about to claim."""
    pid = os.getpid()
    return Owner(node or "", socket.gethostname(), pid, psutil.Process(pid).create_time())


def owner_is_gone(value: str, *, run_id: int) -> bool | None:
    """True when the process that claimed run `run_id` is gone, False when it is still
    there, None when nobody can tell (then only the heartbeat's age decides)."""
    owner = Owner.parse(value)
    if owner is None:
        return None
    if owner.machine == socket.gethostname():
        return not _process_alive(owner)
    return _node_lacks_task(owner, run_id)


def _process_alive(owner: Owner) -> bool:
    try:
        process = psutil.Process(owner.pid)
        alive = process.status() != psutil.STATUS_ZOMBIE
        return alive and abs(process.create_time() - owner.started) < 1.0
    except psutil.NoSuchProcess:
        return False


def _node_lacks_task(owner: Owner, run_id: int) -> bool | None:
    """Ask the owner's worker, through Celery's remote control, what it is running. No
    answer means the worker is gone; an answer without this run means its pool process died."""
    from config.celery import app

    if not owner.node:
        return None
    try:
        replies = app.control.inspect(
            destination=[owner.node], timeout=settings.SYNC_OWNER_PING_TIMEOUT
        ).active()
    except Exception as exc:  # the broker itself is unreachable: nobody can tell
        logger.warning("could not ask worker %s about sync %s: %s", owner.node, run_id, exc)
        return None
    tasks = (replies or {}).get(owner.node)
    if tasks is None:
        return True
    for task in tasks:
        if task.get("worker_pid") == owner.pid and _names_run(task.get("args"), run_id):
            return False
    return True


def _names_run(args, run_id: int) -> bool:
    if isinstance(args, list | tuple):
        return bool(args) and args[0] == run_id
    return str(args).strip("()[], ") == str(run_id)
