"""DbtCloudStandin: start/stop the server and build an account's world for a test."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from . import objects
from .jaffle import jaffle_shop_steps
from .objects import CAUSE_CATEGORIES, COMPLETE, STATUS_HUMANIZED, utc
from .server import Server
from .state import Fault, RunRow, RunStep, StandinState

FIRST_RUN_AT = datetime(2026, 8, 1, 5, 0, 2, 183114, tzinfo=UTC)
QUEUED_FOR = timedelta(seconds=7)
RUN_LENGTH = timedelta(minutes=9, seconds=42)

# (name, {path: content}) or (name, {path: content}, status); content is bytes, str, or
# anything JSON-serialisable.
StepSpec = Sequence[Any]


def as_bytes(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    return content.encode() if isinstance(content, str) else json.dumps(content).encode()


class DbtCloudStandin:
    def __init__(self, state: StandinState | None = None) -> None:
        self.state = state or StandinState()
        self.server = Server(self.state)
        # A short poll keeps stop() quick: shutdown() waits for the loop to notice.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> DbtCloudStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.stopping.set()  # wakes delayed answers
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> DbtCloudStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the account's world -------------------------------------------------------

    def add_account(self, account_id: int, name: str, *, visible: bool = True) -> dict[str, Any]:
        """visible=False: the account exists but the token may not see it (404)."""
        with self.state.lock:
            self.state.accounts[account_id] = objects.account_json(account_id, name)
            if not visible:
                self.state.hidden_accounts.add(account_id)
            return self.state.accounts[account_id]

    def scope_token(self, project_ids: Iterable[int] | None) -> None:
        """Limit the token to these projects (None: all); others answer 404 or are left out."""
        self.state.token_project_ids = None if project_ids is None else set(project_ids)

    def add_project(
        self,
        project_id: int,
        name: str,
        account_id: int | None = None,
        *,
        state: int = 1,
        description: str = "",
        docs_job_id: int | None = None,
        freshness_job_id: int | None = None,
    ) -> dict[str, Any]:
        if account_id is None:
            if len(self.state.accounts) != 1:
                raise ValueError("add_project needs account_id unless one account exists")
            account_id = next(iter(self.state.accounts))
        with self.state.lock:
            self.state.projects[project_id] = objects.project_json(
                project_id,
                name,
                account_id,
                state=state,
                description=description,
                docs_job_id=docs_job_id,
                freshness_job_id=freshness_job_id,
            )
            return self.state.projects[project_id]

    def add_environment(
        self,
        env_id: int,
        project_id: int,
        name: str,
        type: str = "deployment",  # noqa: A002 - the API's field name
        deployment_type: str | None = None,
        *,
        dbt_version: str = "latest",
        state: int = 1,
    ) -> dict[str, Any]:
        if type not in ("deployment", "development"):
            raise ValueError(f"environment type {type!r}")
        if type == "development" and deployment_type is not None:
            raise ValueError("a development environment has no deployment_type")
        with self.state.lock:
            self.state.environments[env_id] = objects.environment_json(
                env_id,
                self.state.projects[project_id],
                name,
                type=type,
                deployment_type=deployment_type,
                dbt_version=dbt_version,
                state=state,
            )
            return self.state.environments[env_id]

    def add_job(
        self,
        job_id: int,
        project_id: int,
        environment_id: int,
        name: str,
        job_type: str = "scheduled",
        execute_steps: Sequence[str] = ("dbt build",),
        generate_docs: bool = True,
        run_generate_sources: bool = True,
        state: int = 1,
        cron: str | None = "0 5 * * *",
        *,
        triggers: Mapping[str, bool] | None = None,
        dbt_version: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Triggers default from job_type and cron. Jobs carry no `deactivated` unless
        state.send_deactivated (the old shape), derived from the triggers then."""
        environment = self.state.environments[environment_id]
        if environment["project_id"] != project_id:
            raise ValueError(f"environment {environment_id} is not in project {project_id}")
        with self.state.lock:
            self.state.jobs[job_id] = objects.job_json(
                job_id,
                environment,
                name,
                job_type=job_type,
                execute_steps=execute_steps,
                generate_docs=generate_docs,
                run_generate_sources=run_generate_sources,
                state=state,
                cron=cron,
                triggers=dict(triggers) if triggers else None,
                dbt_version=dbt_version,
                description=description,
            )
            return self.state.jobs[job_id]

    def add_run(
        self,
        run_id: int,
        job_id: int,
        status: int = 10,
        *,
        created_at: datetime | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        steps: Iterable[StepSpec] | None = None,
        artifacts_saved: bool | None = None,
        has_docs_generated: bool | None = None,
        has_sources_generated: bool | None = None,
        git_sha: str | None = None,
        git_branch: str = "main",
        trigger_cause: str = "scheduled",
        cause_category: str | None = None,
        status_message: str | None = None,
        blocked_by: Iterable[int] = (),
        dbt_version: str | None = None,
    ) -> RunRow:
        """A run of `job_id`. Times default from one another (created → +7 s started →
        +9 min 42 s finished); else a complete run was created on 2026-08-01 05:00 plus
        an hour per run added before it, an unfinished one a minute ago. Only a complete run
        (10/20/30) has finished_at, only a started one (3+) started_at and git fields.

        steps: default the job's step names with no files (none while queued). Each step
        is done (10) except the last, which takes the run's status. artifacts_saved,
        has_docs_generated and has_sources_generated default from the files: any file,
        a catalog.json, a sources.json.
        """
        if status not in STATUS_HUMANIZED:
            raise ValueError(f"run status {status!r}: use one of {sorted(STATUS_HUMANIZED)}")
        complete = status in COMPLETE
        if (finished_at and not complete) or (started_at and status < 3):
            raise ValueError(f"a run with status {status} has no such timestamp")
        job = self.state.jobs[job_id]
        environment = self.state.environments[job["environment_id"]]
        created_at, started_at, finished_at = utc(created_at), utc(started_at), utc(finished_at)
        anchor = started_at or (finished_at - RUN_LENGTH if finished_at else None)
        if created_at is None and anchor:
            created_at = anchor - QUEUED_FOR
        elif created_at is None and not complete:
            created_at = datetime.now(UTC) - timedelta(minutes=1)  # queued a moment ago
        elif created_at is None:
            created_at = FIRST_RUN_AT + timedelta(hours=len(self.state.runs))
        if status >= 3:
            started_at = started_at or created_at + QUEUED_FOR
        if complete:
            finished_at = finished_at or started_at + RUN_LENGTH
        if steps is None:
            steps = [] if status < 3 else [(name, {}) for name, _ in self.job_steps(job)]
        rows = []
        specs = list(steps)
        for position, spec in enumerate(specs, start=1):
            default = status if position == len(specs) else 10
            name, files, step_status = (*spec, default) if len(spec) == 2 else spec
            files = {path: as_bytes(content) for path, content in files.items()}
            rows.append(RunStep(name, step_status, files))
        files = [path for step in rows for path in step.artifacts]
        started = status >= 3
        run = RunRow(
            id=run_id,
            account_id=job["account_id"],
            project_id=job["project_id"],
            environment_id=job["environment_id"],
            job_definition_id=job_id,
            trigger_id=run_id + 3,
            status=status,
            status_message=status_message,
            dbt_version=dbt_version or job["dbt_version"] or environment["dbt_version"],
            git_branch=git_branch if started else None,
            git_sha=(git_sha or objects.fake_sha(run_id)) if started else None,
            created_at=created_at,
            dequeued_at=created_at + timedelta(seconds=3) if status >= 2 else None,
            started_at=started_at,
            finished_at=finished_at,
            artifacts_saved=bool(files) if artifacts_saved is None else artifacts_saved,
            has_docs_generated=(
                "catalog.json" in files if has_docs_generated is None else has_docs_generated
            ),
            has_sources_generated=(
                "sources.json" in files if has_sources_generated is None else has_sources_generated
            ),
            trigger_cause=trigger_cause,
            cause_category=cause_category
            or (trigger_cause if trigger_cause in CAUSE_CATEGORIES else "api"),
            blocked_by=list(blocked_by),
            steps=rows,
        )
        with self.state.lock:
            self.state.runs[run_id] = run
        return run

    def job_steps(self, job: Mapping[str, Any]) -> list[tuple[str, dict[str, bytes]]]:
        """The job's steps with the jaffle_shop fixture files (jaffle_shop_steps)."""
        return jaffle_shop_steps(
            freshness=job["run_generate_sources"],
            commands=job["execute_steps"],
            docs=job["generate_docs"],
        )

    def add_jaffle_shop_run(
        self, run_id: int, job_id: int, status: int = 10, **options: Any
    ) -> RunRow:
        """A run whose steps follow the job's settings and carry the real jaffle_shop
        artifacts; the standard job gives the 4 steps of jaffle_shop_steps()."""
        steps = [] if status < 3 else self.job_steps(self.state.jobs[job_id])
        return self.add_run(run_id, job_id, status, steps=steps, **options)

    # -- faults ------------------------------------------------------------------------

    def fail_next(
        self,
        path_pattern: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests whose path matches (re.search) with `status`.

        Default body: the envelope for 4xx ("Too many requests" for 429), a gateway's
        HTML page for 5xx. Headers are only those given (e.g. {"Retry-After": "300"}).
        """
        self._add_fault(
            path_pattern, "fail", times, status=status, headers=dict(headers or {}), body=body
        )

    def delay_next(self, path_pattern: str, seconds: float, times: int = 1) -> None:
        """Hold the next matching answers for `seconds` (server-side), then answer."""
        self._add_fault(path_pattern, "delay", times, seconds=seconds)

    def stall_next(
        self, path_pattern: str, keep_bytes: int, seconds: float, times: int = 1
    ) -> None:
        """Send the next matching answers' headers and first `keep_bytes`, then nothing for
        `seconds` (a download that stalls midway), then the rest."""
        self._add_fault(path_pattern, "stall", times, keep_bytes=keep_bytes, seconds=seconds)

    def truncate_next(self, path_pattern: str, keep_bytes: int, times: int = 1) -> None:
        """Cut the next matching answers to `keep_bytes`, with a matching Content-Length."""
        self._add_fault(path_pattern, "truncate", times, keep_bytes=keep_bytes)

    def _add_fault(self, pattern: str, kind: str, times: int, **details: Any) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(re.compile(pattern), kind, times, **details))

    def requests_to(self, path_pattern: str) -> list[dict[str, Any]]:
        """The recorded requests whose path matches (re.search)."""
        with self.state.lock:
            return [r for r in self.state.requests if re.search(path_pattern, r["path"])]
