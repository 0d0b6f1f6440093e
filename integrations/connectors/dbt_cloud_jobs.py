"""dbt Cloud jobs: how each is started (scheduled, triggered by the API or an orchestrator,
or inactive), and each live job's newest finished runs, found with one walk per
environment of the account's runs, newest first, rather than one call per job.

The v2 API no longer sends `deactivated` (reference §8.4): a job's state comes from its
`triggers` and its runs. A job with no trigger on is live only if a run of it finished
within the active window (DBT_CLOUD_ACTIVE_WINDOW_DAYS); an Airflow DAG or a script
calling the API starts it. Otherwise it is inactive: not read, unless the integration
names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .dbt_cloud_api import PAGE_LIMIT, DbtCloudClient

SCHEDULED, TRIGGERED, INACTIVE = "scheduled", "triggered", "inactive"
STATE_LABELS = {
    SCHEDULED: "scheduled",
    TRIGGERED: "triggered by API or an orchestrator",
    INACTIVE: "inactive",
}
# What starts a job (reference §8.4). custom_branch_only only narrows the others.
TRIGGERS = ("schedule", "git_provider_webhook", "github_webhook", "on_merge")
FINISHED_WITH_ARTIFACTS = "[10,20]"  # success, or error (failing tests are what users need)
HINT = "most_recent_completed_run"
# The jobs list's most recent completed run may be the newest created rather than the
# last to finish: a run lasts at most a day by default (run_duration_limit_seconds), so a
# hint older than the window by more than that proves no run finished within it.
HINT_MARGIN = timedelta(days=1)


def parse_time(value: str | None) -> datetime | None:
    """dbt Cloud's timestamps: a space (runs) or a T (jobs), Z or an offset."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def triggers_on(job: dict[str, Any]) -> tuple[str, ...]:
    """The triggers that are on. An old-shape job saying `deactivated: true` has none,
    whatever its triggers say (that is what the dbt Cloud UI shows)."""
    if job.get("deactivated") is True:
        return ()
    triggers = job.get("triggers") or {}
    return tuple(name for name in TRIGGERS if triggers.get(name))


def hinted_state(job: dict[str, Any], since: datetime) -> str | None:
    """The state the jobs list alone tells (with `most_recent_completed_run` asked for):
    scheduled when a trigger is on; inactive when no trigger is on and the most recent
    completed run is missing or well before the window; None when runs must tell."""
    if triggers_on(job):
        return SCHEDULED
    if HINT not in job:  # not answered: the runs tell
        return None
    finished = parse_time((job[HINT] or {}).get("finished_at"))
    if finished is None or finished < since - HINT_MARGIN:
        return INACTIVE
    return None


def choice_state(job: dict[str, Any], since: datetime) -> str | None:
    """The state shown in the job picker, from the jobs list only (no runs call); None
    when the list did not answer `most_recent_completed_run` for a job with no trigger."""
    state = hinted_state(job, since)
    if state is not None or HINT not in job:
        return state
    finished = parse_time((job[HINT] or {}).get("finished_at"))
    return TRIGGERED if finished is not None and finished >= since else INACTIVE


@dataclass
class JobRuns:
    """One job's finished runs as the walk finds them, newest first."""

    job: dict[str, Any]
    since: datetime
    limit: int
    last_read: int | None = None
    explicit: bool = False  # named in the integration's job_ids: read whatever its state
    triggers: tuple[str, ...] = ()
    seen: list[dict[str, Any]] = field(default_factory=list)  # status 10/20, newest first
    recent: bool | None = None  # a run finished within the window; None: not known yet
    done: bool = False
    # Its newest run is known to be older than the window: a walk would stop before it.
    old: bool = False

    def __post_init__(self) -> None:
        self.triggers = triggers_on(self.job)
        if self.job.get(HINT, False) is None:  # asked for, and the job never completed a run
            self.recent, self.done = False, True
            return
        if hinted_state(self.job, self.since) == INACTIVE:
            self.recent = False
            self.done = not self.explicit  # an explicit one still needs its newest run
        finished = parse_time((self.job.get(HINT) or {}).get("finished_at"))
        self.old = self.recent is False or (
            finished is not None and finished < self.since - HINT_MARGIN
        )

    @property
    def id(self) -> int:
        return self.job["id"]

    @property
    def state(self) -> str:
        if self.triggers:
            return SCHEDULED
        return TRIGGERED if self.recent else INACTIVE

    @property
    def read(self) -> bool:
        """Whether the sync reads it: live, or named by the integration."""
        return self.state != INACTIVE or self.explicit

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Its newest finished runs that saved artifacts, newest first."""
        return [run for run in self.seen if run.get("artifacts_saved") and run.get("finished_at")]

    def add(self, run: dict[str, Any]) -> None:
        if self.done:
            return
        if not self.seen and not self.triggers:
            # Its newest finished run says whether anything still starts it.
            finished = parse_time(run.get("finished_at"))
            self.recent = finished is not None and finished >= self.since
            if not self.recent and not self.explicit:
                self.done = True
                return
        self.seen.append(run)
        reached = run["id"] == self.last_read if self.last_read is not None else bool(self.runs)
        self.done = reached or len(self.seen) >= self.limit

    def passed_window(self) -> None:
        """The walk reached runs that finished before the window."""
        if not self.seen and not self.triggers:
            self.recent = False
            self.done = self.done or not self.explicit

    def found(self, runs: list[dict[str, Any]]) -> None:
        """Its runs from a call of its own."""
        self.seen, self.done = runs, True
        if not self.triggers:
            finished = parse_time(runs[0].get("finished_at")) if runs else None
            self.recent = finished is not None and finished >= self.since


class RunFinder:
    """Each job's newest finished runs, with as few runs-list calls as the API allows.

    One walk per environment that has a job still to settle: that environment's finished
    runs, newest first (`-finished_at`, `status__in=[10,20]`, pages of 100). It stops once
    every job of the environment is settled: it has its newest run with artifacts and
    reached the run the last sync read (or `limit` runs of it); a job with no trigger is
    settled by its newest run, or as inactive once the walk passes the window. Past the
    window no further page is asked for: a job still unsettled then (a scheduled job that
    rarely runs, a last read run long ago) gets one call of its own.
    """

    def __init__(
        self,
        client: DbtCloudClient,
        *,
        since: datetime,
        limit: int,
        ingested: dict[str, int],
        explicit: Iterable[int] = (),
    ) -> None:
        self.client = client
        self.since = since
        self.limit = limit
        self.ingested = ingested
        self.explicit = set(explicit)

    def find(self, jobs: list[dict[str, Any]]) -> dict[int, JobRuns]:
        found = {
            job["id"]: JobRuns(
                job,
                since=self.since,
                limit=self.limit,
                last_read=self.ingested.get(str(job["id"])),
                explicit=job["id"] in self.explicit,
            )
            for job in jobs
        }
        by_environment: dict[Any, list[JobRuns]] = defaultdict(list)
        for job_runs in found.values():
            # A job whose newest run is older than the window (a rarely scheduled one, an
            # inactive one the integration names): its own call finds it sooner.
            if not job_runs.done and not job_runs.old:
                by_environment[job_runs.job.get("environment_id")].append(job_runs)
        for environment_id, group in by_environment.items():
            if environment_id is not None:
                self._walk_environment(environment_id, group)
        for job_runs in found.values():
            if not job_runs.done:
                job_runs.found(self.job_runs(job_runs.id))
        return found

    def _walk_environment(self, environment_id: int, group: list[JobRuns]) -> None:
        jobs = {job_runs.id: job_runs for job_runs in group}
        seen: set[int] = set()
        past_window = False
        runs = self.client.paginate(
            f"v2/accounts/{self.client.account_id}/runs/",
            {
                "environment_id": environment_id,
                "status__in": FINISHED_WITH_ARTIFACTS,
                "order_by": "-finished_at",
                "include_related": "trigger",
            },
        )
        for position, run in enumerate(runs, start=1):
            # A run that finished while the walk pages shifts the offsets by one: the next
            # page repeats a run rather than skipping one.
            if run["id"] not in seen:
                seen.add(run["id"])
                job_runs = jobs.get(run.get("job_definition_id") or run.get("job_id"))
                if job_runs is not None:
                    job_runs.add(run)
                finished = parse_time(run.get("finished_at"))
                if not past_window and finished is not None and finished < self.since:
                    past_window = True
                    for each in group:
                        each.passed_window()
            if all(job_runs.done for job_runs in group):
                return
            if past_window and position % PAGE_LIMIT == 0:
                return  # the next page is older still: a call per unsettled job is cheaper

    def job_runs(self, job_id: int) -> list[dict[str, Any]]:
        """One job's newest finished runs (its own call), newest first."""
        runs = self.client.get(
            f"v2/accounts/{self.client.account_id}/runs/",
            {
                "job_definition_id": job_id,
                "status__in": FINISHED_WITH_ARTIFACTS,
                "order_by": "-finished_at",
                "limit": self.limit,
                "include_related": "trigger",
            },
        )
        return list(runs or [])


def inactive_summary(names: list[str], window_days: int, shown: int = 3) -> str:
    """One line for every job left out as inactive."""
    quoted = ", ".join(f"“{name}”" for name in names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    jobs = "job has" if len(names) == 1 else "jobs have"
    return (
        f"{len(names)} {jobs} no trigger and no finished run in the last {window_days} days, "
        f"so they are not read: {quoted}{more}. Choose one under “Only jobs” to read it anyway."
    )
