"""The records the dbt Cloud connector yields; `catalog.services.dbt` applies them.

Plain data only: ids are dbt Cloud's, nodes are named by dbt `unique_id`, times are aware
datetimes. Every fact carries the job and run it came from, so that facts from several
jobs can be merged (the newest wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# dbt Cloud run status codes (reference §6.1). A run that timed out is 30, not 20.
RUN_STATUS = {1: "queued", 2: "starting", 3: "running", 10: "success", 20: "error", 30: "cancelled"}


@dataclass(frozen=True, slots=True)
class DbtJobRecord:
    dbt_id: int
    name: str
    project_id: int | None
    project_name: str
    environment_id: int | None
    environment_name: str
    environment_type: str  # "deployment" | "development"
    deployment_type: str  # "production" | "staging" | ""
    job_type: str
    schedule_cron: str
    generate_docs: bool
    run_generate_sources: bool
    execute_steps: tuple[str, ...]
    url: str
    # How the job is started (reference §8.4): "scheduled" (a cron or git trigger is on) or
    # "triggered" (no trigger, but a recent run: the API or an orchestrator starts it).
    # Inactive jobs are never yielded.
    state: str = "scheduled"
    triggers: tuple[str, ...] = ()  # the triggers that are on: schedule, git_provider_webhook, ...


@dataclass(frozen=True, slots=True)
class DbtRunRecord:
    dbt_id: int
    job_id: int
    status_code: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    url: str
    trigger_cause: str
    git_sha: str
    git_branch: str
    has_docs_generated: bool
    has_sources_generated: bool
    dbt_version: str = ""

    @property
    def status(self) -> str:
        return RUN_STATUS.get(self.status_code, f"unknown ({self.status_code})")


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a fact came from: the job, its run, and when that run finished."""

    job_id: int
    run_id: int
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class DbtColumnRecord:
    name: str
    description: str = ""
    data_type: str = ""
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    constraints: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class FreshnessRecord:
    status: str  # pass | warn | error | runtime error
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_seconds: float | None
    criteria: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, slots=True)
class DbtNodeRecord:
    """A model, seed, snapshot or source: something that is (or could be) a relation."""

    unique_id: str
    resource_type: str  # model | seed | snapshot | source
    name: str
    package_name: str
    project_id: int | None
    original_file_path: str
    database: str
    schema: str
    identifier: str  # alias for models/seeds/snapshots, identifier for sources
    relation_name: str  # as dbt renders it, quoted; "" for ephemeral models
    materialized: str  # table | view | incremental | ephemeral | seed | snapshot | ...
    description: str
    tags: tuple[str, ...]
    meta: dict[str, Any]
    owner: str  # meta.owner (or the source's meta.owner)
    access: str
    group: str  # the group's unique_id, or ""
    contract_enforced: bool
    constraints: tuple[dict[str, Any], ...]
    columns: tuple[DbtColumnRecord, ...]
    depends_on: tuple[str, ...]  # unique_ids of the nodes it reads
    raw_code: str
    compiled_code: str
    url: str
    loader: str = ""  # sources
    source_name: str = ""  # sources
    freshness: FreshnessRecord | None = None
    executed_at: datetime | None = None  # when the run built it (run_results timing)
    execution_status: str = ""  # success | error | skipped | ...
    catalog_columns: tuple[tuple[str, str, int], ...] = ()  # (name, type, index) from catalog.json
    provenance: Provenance | None = None
    # Which facts this run carries for the node: a run that did not build, document or
    # compile it says nothing about those (absence is not evidence).
    executed: bool = False  # run_results.json has a result for it
    execution_time: float | None = None
    execution_message: str = ""
    adapter_response: dict[str, Any] = field(default_factory=dict)
    compiled: bool = False  # this run compiled it (compiled code in the manifest or results)
    catalogued: bool = False  # catalog.json has it
    version: str = ""  # a versioned model's version ("2"); "" when not versioned
    latest_version: str = ""


@dataclass(frozen=True, slots=True)
class DbtTestRecord:
    unique_id: str
    name: str
    description: str
    test_type: str  # generic | singular | constraint
    test_name: str  # not_null, unique, relationships, ... or the singular test's name
    attached_node: str  # unique_id of the tested model/seed/snapshot/source, or ""
    column_name: str
    severity: str
    tags: tuple[str, ...]
    compiled_code: str
    url: str
    depends_on: tuple[str, ...] = ()
    status: str = ""  # pass | fail | warn | error | skipped | "" (never run)
    failures: int | None = None
    message: str = ""
    executed_at: datetime | None = None
    provenance: Provenance | None = None
    executed: bool = False  # this run's run_results.json has a result for it
    # A contract constraint the warehouse enforces: checked each time its model is built, so
    # its result is that build's (the catalog derives it from the model's build result).
    enforced: bool = False


@dataclass(frozen=True, slots=True)
class DbtExposureRecord:
    unique_id: str
    name: str
    label: str
    exposure_type: str
    description: str
    tags: tuple[str, ...]
    owner_name: str
    owner_email: str
    url: str
    maturity: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DbtTermRecord:
    """A metric or a semantic model, kept as a dictionary (glossary) term."""

    unique_id: str
    kind: str  # metric | semantic_model
    name: str
    label: str
    term_type: str  # simple, ratio, derived, ... for metrics; "" for semantic models
    description: str
    group: str
    dimensions: tuple[dict[str, Any], ...]
    time_grains: tuple[str, ...]
    measures: tuple[dict[str, Any], ...]
    depends_on: tuple[str, ...]  # unique_ids of nodes (models) and other metrics
    owner: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DbtGroupRecord:
    unique_id: str
    name: str
    owner_name: str
    owner_email: str
    description: str


@dataclass(frozen=True, slots=True, weakref_slot=True)
class DbtArtifacts:
    """Everything read from one run's artifacts, as records. (Weak references tell the
    tests that the apply lets go of them.)"""

    project_id: int | None
    provenance: Provenance
    manifest_generated_at: datetime | None
    nodes: tuple[DbtNodeRecord, ...]
    tests: tuple[DbtTestRecord, ...]
    exposures: tuple[DbtExposureRecord, ...]
    terms: tuple[DbtTermRecord, ...]
    groups: tuple[DbtGroupRecord, ...]
    warnings: tuple[str, ...] = ()
    # Read without the run's manifest (a newer run of the project gives the definitions):
    # its nodes and tests carry only what the run did, not what they are.
    facts_only: bool = False

    def present_ids(self) -> set[str]:
        """Every unique_id this manifest declares."""
        return {
            r.unique_id
            for kind in (self.nodes, self.tests, self.exposures, self.terms, self.groups)
            for r in kind
        }


@dataclass(frozen=True, slots=True)
class TestOutcome:
    unique_id: str
    status: str
    failures: int | None
    message: str
    executed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DbtTestOutcomes:
    """The test results of a run that finished between two syncs, older than the run read
    whole: they only add to the tests' history (what each test is comes from the newest
    run's manifest)."""

    provenance: Provenance
    outcomes: tuple[TestOutcome, ...]


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the next sync needs to know: the runs already ingested, per job."""

    data: dict[str, Any]


def constraint_message(
    description: str,
    *,
    model: str,
    build_status: str,
    enforced: bool = True,
    kind: str = "",
    adapter: str = "",
) -> str:
    """What a contract constraint's check says, from its model's build status in one run:
    an enforced constraint holds exactly when the warehouse accepted the build."""
    if not enforced:
        return (
            f"{description}. Declared in the contract only: {adapter or 'this warehouse'} "
            f"does not enforce {kind} constraints."
        )
    if build_status == "success":
        return f"{description}. Enforced by the warehouse: it held when {model} was built."
    if build_status == "error":
        return f"{description}. {model} failed to build, so the constraint may not hold."
    return f"{description}. Enforced by the warehouse when {model} is built."
