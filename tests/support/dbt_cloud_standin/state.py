"""What the stand-in serves: the account's world as tests built it, and the faults to inject."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RunStep:
    """One step of a run; dbt Cloud stores artifacts per step (reference §8.7)."""

    name: str
    status: int
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass
class RunRow:
    """A run as stored: datetimes, not the API's strings (objects.run_json formats them)."""

    id: int
    account_id: int
    project_id: int
    environment_id: int
    job_definition_id: int
    trigger_id: int
    status: int
    status_message: str | None
    dbt_version: str | None
    git_branch: str | None
    git_sha: str | None
    created_at: datetime
    dequeued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    artifacts_saved: bool
    has_docs_generated: bool
    has_sources_generated: bool
    trigger_cause: str
    cause_category: str
    blocked_by: list[int] = field(default_factory=list)
    steps: list[RunStep] = field(default_factory=list)


@dataclass
class Fault:
    """A fault for the next `times` requests whose path matches `pattern` (re.search)."""

    pattern: re.Pattern[str]
    kind: str  # "fail" | "delay" | "truncate" | "stall"
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0
    keep_bytes: int = 0


@dataclass
class StandinState:
    token: str = "dbtc_standin_token"
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    environments: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, RunRow] = field(default_factory=dict)
    # Accounts that exist but the token may not see, and the token's project scope
    # (None: every project); both answer 404 as dbt Cloud does (reference §11.3).
    hidden_accounts: set[int] = field(default_factory=set)
    token_project_ids: set[int] | None = None
    faults: list[Fault] = field(default_factory=list)
    # The jobs' old shape (2024 recordings): each carries `deactivated` (reference §8.4).
    send_deactivated: bool = False
    # include_related names answered as if not asked for (an API that ignores them).
    ignored_related: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def account_visible(self, account_id: int) -> bool:
        return account_id in self.accounts and account_id not in self.hidden_accounts

    def project_visible(self, account_id: int, project_id: int) -> bool:
        if not self.account_visible(account_id):
            return False
        return self.token_project_ids is None or project_id in self.token_project_ids

    def visible(self, rows: Any, account_id: int, project_key: str = "project_id") -> list[Any]:
        """Rows of `account_id` whose project the token may see."""
        return [
            row
            for row in rows
            if value_of(row, "account_id") == account_id
            and self.project_visible(account_id, value_of(row, project_key))
        ]

    def take_fault(self, kind: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.kind == kind and fault.times > 0 and fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None


def value_of(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name)
