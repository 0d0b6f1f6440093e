"""The JSON shapes of the stand-in's objects (reference §3, §6.1, §8, §9)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from .state import RunRow, RunStep, StandinState

STATUS_HUMANIZED = {
    1: "Queued",
    2: "Starting",
    3: "Running",
    10: "Success",
    20: "Error",
    30: "Cancelled",
}
COMPLETE = {10, 20, 30}
# Hex colours: the legacy spec's example is the success green; the others are made up.
STATUS_COLOR = {1: "#c4c4c4", 2: "#c4c4c4", 3: "#0f68b5", 10: "#55973a", 20: "#e15b4d"}
CAUSE_CATEGORIES = {
    "api",
    "ci",
    "scheduled",
    "ui",
    "rerun",
    "job completion",
    "merge",
    "exposures generated",
    "adaptive",
    "ingest",
}
TIMEOUT_MESSAGE = (
    "This run timed out after running for 1 day, which exceeded the configured timeout "
    "of 86400 seconds."
)


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run_time(moment: datetime | None) -> str | None:
    """Runs (and their steps and triggers) use a space separator (reference §3)."""
    moment = utc(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if moment else None


def iso_time(moment: datetime) -> str:
    """Accounts, projects, environments and jobs use `T` (reference §3)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def hms(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"  # hours may pass 24


UNITS = [("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


def humanized(delta: timedelta) -> str:
    """'1 minute, 50 seconds': the largest unit and the one after it, as recorded."""
    seconds = max(int(delta.total_seconds()), 0)
    for position, (name, size) in enumerate(UNITS):
        if seconds >= size or size == 1:
            count, seconds = divmod(seconds, size)
            parts = [f"{count} {name}{'' if count == 1 else 's'}"]
            if position + 1 < len(UNITS):
                next_name, next_size = UNITS[position + 1]
                if seconds // next_size:
                    n = seconds // next_size
                    parts.append(f"{n} {next_name}{'' if n == 1 else 's'}")
            return ", ".join(parts)
    raise AssertionError("unreachable")


def humanized_since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "0 minutes from now"  # a queued run's finished_at, as recorded
    if moment > now:
        return f"{humanized(moment - now)} from now"
    return f"{humanized(now - moment)} ago"


def fake_sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def cron_schedule(cron: str | None) -> tuple[dict[str, Any], str | None]:
    """The job's `schedule` block and `cron_humanized` for the common cron shapes."""
    fields = (cron or "").split()
    if len(fields) != 5:
        date = {"type": "custom_cron", "cron": cron}
        return {"cron": cron, "date": date, "time": {"type": "every_hour", "interval": 1}}, None
    minute, hour, *days = fields
    date = (
        {"type": "every_day"} if days == ["*", "*", "*"] else {"type": "custom_cron", "cron": cron}
    )
    if minute.isdigit() and hour.isdigit():
        at = datetime(2000, 1, 1, int(hour), int(minute))
        time = {"type": "at_exact_hours", "hours": [int(hour)]}
        text = f"At {at.strftime('%I:%M %p')}"
    elif minute.isdigit() and hour == "*":
        time, text = {"type": "every_hour", "interval": 1}, "Every hour"
    else:
        time, text = {"type": "every_hour", "interval": 1}, cron
    return {"cron": cron, "date": date, "time": time}, text


def step_json(run: RunRow, index: int, step: RunStep) -> dict[str, Any]:
    start = run.started_at or run.created_at
    end = run.finished_at or datetime.now(UTC)
    share = (end - start) / max(len(run.steps), 1)
    started = start + share * (index - 1)
    finished = started + share if step.status in COMPLETE else None
    duration = (finished or datetime.now(UTC)) - started
    return {
        "id": run.id * 1000 + index,
        "run_id": run.id,
        "account_id": run.account_id,
        "index": index,
        "name": step.name,
        "status": step.status,
        "status_humanized": STATUS_HUMANIZED[step.status],
        "status_color": STATUS_COLOR.get(step.status, "#8b8b8b"),
        "logs": f"{step.name}\n",
        "debug_logs": "",
        "truncated_debug_logs": "",
        "log_location": "db",
        "log_path": None,
        "debug_log_path": None,
        "created_at": run_time(started),
        "updated_at": run_time(finished or started),
        "started_at": run_time(started),
        "finished_at": run_time(finished),
        "duration": hms(duration),
        "duration_humanized": humanized(duration),
    }


def trigger_json(run: RunRow) -> dict[str, Any]:
    nulls = (
        "github_pull_request_id gitlab_merge_request_id azure_pull_request_id "
        "non_native_pull_request_id schema_override dbt_version_override threads_override "
        "target_name_override generate_docs_override timeout_seconds_override steps_override"
    ).split()
    return {
        "id": run.trigger_id,
        "cause": run.trigger_cause,
        "cause_category": run.cause_category,
        "cause_humanized": run.trigger_cause,
        "job_definition_id": run.job_definition_id,
        "git_branch": run.git_branch,
        "git_sha": run.git_sha,
        **dict.fromkeys(nulls),
        "created_at": run_time(run.created_at),
    }


def run_json(
    state: StandinState, run: RunRow, *, base_url: str, related: set[str]
) -> dict[str, Any]:
    now = datetime.now(UTC)
    complete = run.status in COMPLETE
    duration = (run.finished_at or now) - run.created_at
    queued = (run.started_at or now) - run.created_at
    running = (run.finished_at or now) - run.started_at if run.started_at else timedelta(0)
    updated = run.finished_at or run.started_at or run.dequeued_at or run.created_at
    failed = run.status == 20
    href = f"{base_url}/deploy/{run.account_id}/projects/{run.project_id}/runs/{run.id}/"
    return {
        "id": run.id,
        "trigger_id": run.trigger_id,
        "account_id": run.account_id,
        "environment_id": run.environment_id,
        "project_id": run.project_id,
        "job_definition_id": run.job_definition_id,
        "status": run.status,
        "dbt_version": run.dbt_version,
        "git_branch": run.git_branch,
        "git_sha": run.git_sha,
        "status_message": run.status_message,
        "owner_thread_id": None,
        "executed_by_thread_id": f"scheduler-run-0-{run.id}" if run.dequeued_at else None,
        "deferring_run_id": None,
        "artifacts_saved": run.artifacts_saved,
        "artifact_s3_path": (
            f"prod-us-c1/runs/{run.id}/artifacts/target" if run.artifacts_saved else None
        ),
        "has_docs_generated": run.has_docs_generated,
        "has_sources_generated": run.has_sources_generated,
        "notifications_sent": complete,
        "blocked_by": list(run.blocked_by),
        "created_at": run_time(run.created_at),
        "updated_at": run_time(updated),
        "dequeued_at": run_time(run.dequeued_at),
        "started_at": run_time(run.started_at),
        "finished_at": run_time(run.finished_at),
        "last_checked_at": run_time(run.finished_at),
        "last_heartbeat_at": run_time(run.finished_at - timedelta(seconds=20))
        if run.finished_at
        else None,
        "should_start_at": None,
        "trigger": trigger_json(run) if "trigger" in related else None,
        "job": state.jobs.get(run.job_definition_id) if "job" in related else None,
        "environment": (
            state.environments.get(run.environment_id) if "environment" in related else None
        ),
        "run_steps": (
            [step_json(run, i, step) for i, step in enumerate(run.steps, start=1)]
            if "run_steps" in related
            else []
        ),
        "status_humanized": STATUS_HUMANIZED[run.status],
        "in_progress": not complete,
        "is_complete": complete,
        "is_success": run.status == 10,
        "is_error": failed,
        "is_cancelled": run.status == 30,
        "is_running": None,  # null in 2024 recordings (reference §6.1)
        "href": href,
        "duration": hms(duration),
        "queued_duration": hms(queued),
        "run_duration": hms(running),
        "duration_humanized": humanized(duration),
        "queued_duration_humanized": humanized(queued),
        "run_duration_humanized": humanized(running),
        "created_at_humanized": humanized_since(run.created_at, now),
        "finished_at_humanized": humanized_since(run.finished_at, now),
        "retrying_run_id": None,
        "can_retry": failed,
        "retry_not_supported_reason": None if failed else "RETRY_NOT_FAILED_RUN",
        "used_repo_cache": None,
        "audit": None,
        "job_id": run.job_definition_id,
    }


CREATED_AT = datetime(2025, 3, 2, 9, 14, 5, 120331, tzinfo=UTC)
UPDATED_AT = datetime(2026, 1, 11, 16, 40, 27, 4512, tzinfo=UTC)
ENVIRONMENT_V3_ONLY = (
    "is_deferrable",
    "enable_model_query_history",
    "enable_dbt_state",
    "primary_profile_id",
)


def account_json(account_id: int, name: str) -> dict[str, Any]:
    return {
        "id": account_id,
        "name": name,
        "state": 1,
        "plan": "enterprise",
        "locked": False,
        "lock_reason": None,
        "pending_cancel": False,
        "identifier": f"act_{account_id}",
        "static_subdomain": "ab123",
        "vanity_subdomain": None,
        "run_slots": 15,
        "developer_seats": 10,
        "read_only_seats": 10,
        "queue_limit": 50,
        "run_duration_limit_seconds": 86400,
        "git_auth_level": "team",
        "docs_job_id": None,
        "freshness_job_id": None,
        "created_at": "2025-01-02T10:11:12.123456+00:00",
        "updated_at": "2026-08-01T05:00:00.000000+00:00",
    }


def project_json(project_id: int, name: str, account_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": project_id,
        "name": name,
        "account_id": account_id,
        "description": fields.get("description", ""),
        "connection_id": project_id + 1,
        "repository_id": project_id + 2,
        "semantic_layer_config_id": None,
        "state": fields.get("state", 1),
        "dbt_project_subdirectory": None,
        "docs_job_id": fields.get("docs_job_id"),
        "freshness_job_id": fields.get("freshness_job_id"),
        "type": 0,
        "skipped_setup": False,
        "created_at": iso_time(CREATED_AT),
        "updated_at": iso_time(UPDATED_AT),
    }


def environment_json(
    env_id: int, project: dict[str, Any], name: str, **fields: Any
) -> dict[str, Any]:
    return {
        "id": env_id,
        "account_id": project["account_id"],
        "project_id": project["id"],
        "name": name,
        "type": fields["type"],
        "deployment_type": fields["deployment_type"],
        "dbt_version": fields["dbt_version"],
        "raw_dbt_version": fields["dbt_version"],
        "use_custom_branch": False,
        "custom_branch": None,
        "supports_docs": fields["type"] == "deployment",
        "connection_id": project["connection_id"],
        "credentials_id": env_id + 1 if fields["type"] == "deployment" else None,
        "repository_id": project["repository_id"],
        "extended_attributes_id": None,
        "dbt_project_subdirectory": None,
        "created_by_id": None,
        "state": fields["state"],
        "is_deferrable": False,
        "enable_model_query_history": False,
        "enable_dbt_state": False,
        "primary_profile_id": None,
        "created_at": iso_time(CREATED_AT),
        "updated_at": iso_time(UPDATED_AT),
    }


JOB_TRIGGERS = ("github_webhook", "git_provider_webhook", "schedule", "on_merge")


def deactivated(job: dict[str, Any]) -> bool:
    """The old shape's `deactivated`: every trigger off (custom_branch_only is none); a
    deactivated job is not a deleted one (§8.4, §16.16)."""
    return not any(job["triggers"].get(name) for name in JOB_TRIGGERS)


def job_json(job_id: int, environment: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    job_type, cron = fields["job_type"], fields["cron"]
    triggers = fields.get("triggers") or {
        "github_webhook": job_type == "ci",
        "git_provider_webhook": job_type == "ci",
        "schedule": cron is not None and job_type not in ("ci", "merge"),
        "on_merge": job_type == "merge",
        "custom_branch_only": False,
    }
    schedule, cron_text = cron_schedule(cron)
    return {
        "id": job_id,
        "account_id": environment["account_id"],
        "project_id": environment["project_id"],
        "environment_id": environment["id"],
        "name": name,
        "description": fields.get("description", ""),
        "job_type": job_type,
        "dbt_version": fields.get("dbt_version"),
        "raw_dbt_version": fields.get("dbt_version"),
        "execute_steps": list(fields["execute_steps"]),
        "generate_docs": fields["generate_docs"],
        "run_generate_sources": fields["run_generate_sources"],
        "generate_sources": False,
        "settings": {"threads": 4, "target_name": "default"},
        "execution": {"timeout_seconds": 0},
        "triggers": triggers,
        "schedule": schedule,
        "state": fields["state"],
        # No `deactivated`: the v2 API stopped sending it (§8.4); endpoints.job_out adds it
        # back for a stand-in built with the old shape.
        "is_system": False,
        "is_deferrable": False,
        "run_failure_count": 0,
        "deferring_job_definition_id": None,
        "deferring_environment_id": None,
        "lifecycle_webhooks": False,
        "lifecycle_webhooks_url": None,
        "triggers_on_draft_pr": False,
        "job_completion_trigger_condition": None,
        "run_compare_changes": False,
        "compare_changes_flags": "--select state:modified",
        "run_lint": False,
        "errors_on_lint_failure": True,
        "cost_optimization_features": [],
        "cron_humanized": cron_text,
        "next_run": None,
        "next_run_humanized": None,
        "created_at": iso_time(CREATED_AT),
        "updated_at": iso_time(UPDATED_AT),
    }
