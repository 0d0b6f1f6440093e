"""How long enriching the catalog from a dbt Cloud run takes, what memory it needs and how
many statements it sends to the catalog database: a benchmark to run by hand, not a test.

Run it from the project root, with a PostgreSQL server that trusts local connections:

    .venv/bin/python -m benchmarks.dbt_enrichment         # Tuva, then 1,000 and 10,000 x 20
    .venv/bin/python -m benchmarks.dbt_enrichment --models 2000 --columns 10 --json bench.json
    .venv/bin/python -m benchmarks.dbt_enrichment --sizes 500,1000,2000 --skip-tuva
    .venv/bin/python -m benchmarks.dbt_enrichment --sizes 1000,10000 --multi-job-generated
    .venv/bin/python -m benchmarks.dbt_enrichment --sizes 100,1000 --repeat 5
    .venv/bin/python -m benchmarks.dbt_enrichment --skip-tuva --sizes 10000 --no-tracemalloc \
        --profile /tmp/prof                               # then: python -m pstats /tmp/prof/...

Steps:
1. Points Django at a fresh catalog database `bench_dbtcat_<hex>` on the server (or at
   `--catalog-url`) and migrates it.
2. Case A, Tuva: the Tuva project's manifest (tests/fixtures/tuva-manifest.json.gz, a
   Snowflake project, 737 models and 132 seeds, no run_results) is written uncompressed to a
   temporary directory. A Postgres warehouse integration is created with bulk_create, no
   connection test, holding a table for each non-ephemeral model and seed, named as its
   relation_name says: Tuva's are unquoted, so the names are the lower-case ones Postgres would
   fold them to, with the columns the manifest declares.
3. Case B, generated: for each size (`--sizes`, by default --models/10 and --models), a
   project of N models x M columns from `benchmarks.synthetic_dbt` (sources, staging,
   intermediate and mart models each reading 1-3 earlier ones, descriptions, tags, owners,
   not_null and unique tests mostly passing, quoted Postgres relation names) with its
   run_results, and the warehouse tables for it, built the same way.
   Case C, multi-job (issue 11; unless --skip-multi-job, and for each generated size with
   --multi-job-generated): the same project read from three jobs' newest runs in one sync,
   every artifact derived in memory: a freshness job (sources.json; Tuva declares no source,
   so one per seed, on its table, is added to the project), the nightly build (a result for
   every enabled node, 1 test in 50 failing; a generated project's own run_results), and a
   newer test job running every other test, whose manifest has compiled code only on those.
   Its figures print beside the single-job case's.
4. For each case, dbt Cloud integrations (twins) over that warehouse. A timed one runs the
   enrichment bare: `parse_artifacts_from_files` on the manifest file, node by node (the
   run_results through `load_artifact`), as the connector does with its download, then
   `dbt_apply` with the job, the run, the artifacts and the sync state, on a new SyncRun.
   That is repeated --repeat times (3 by default), each time a first sync of a new twin
   after the dbt values written on tables and columns were cleared, and the repetition with
   the median total is the one reported (every total is listed). Then the traced twin runs
   the same under tracemalloc, without the statement log. Last, the median timed twin gets a
   sync that found no new run (the job and run records only), which must write nothing.
   Before the next case, the warehouse's tables are flagged removed so that matching sees
   only the next one's (with --keep, only the last case's warehouse is live).

Figures per enrichment, from the timed twin unless said otherwise:
- parse and apply wall time, and their total; next to each, this process's CPU time, which
  other processes on a shared machine inflate less than the wall time (the load average at
  the start and the end is printed too; the database server's work is not in it);
- catalog SQL statements `dbt_apply` sends (CaptureQueriesContext, which forces the debug
  cursor whatever settings.DEBUG says), by verb, their time as the debug cursor saw it, and the
  size of the SQL text;
- RSS growth: the process's peak resident set (getrusage's ru_maxrss, reset beforehand through
  /proc/self/clear_refs) minus the resident set at the start. It counts everything, the debug
  cursor's copy of the SQL included;
- Python peak, from the traced twin: tracemalloc's peak during the parse (the run_results,
  the manifest's small sections, an index of its nodes, one node at a time, and the records)
  and during the apply (the records, handed over to dbt_apply as sync_execute does, so
  held until stored, plus everything dbt_apply builds); their maximum over the manifest's
  size on disk is the ratio the target is about;
- the run's counts, and the match report.

Then it prints the issues' targets next to the figures, met or missed: Tuva enriched in
under 10 s; the same statement count whatever the number of models (needs two sizes); a
Python peak under 4x the manifest's size on disk (for the multi-job case, one of its three
manifests); Tuva read from three jobs in under 1.5 s, with its ratio to one job in the same
invocation (the absolute figure moves with the machine); the multi-job statement count the
same whatever the number of models (needs --multi-job-generated and two sizes).

It exits with status 1 when a figure says something is wrong: a match report other than the
expected one, a sync with no new run that writes anything but its SyncRun (a missed target
is reported, not a failure). The database it created is dropped at the end, failed or not,
unless --keep.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .cli import BenchmarkFailed, add_server_arguments, print_columns, run_main
from .synthetic import Server
from .synthetic_dbt import Relation, plan_project, warehouse_relations
from .warehouse_sync import (
    MIB,
    QUERY_LOG_LIMIT,
    cleanup,
    profiled,
    rss_growth,
    setup_django,
    slug,
    without_password,
)

if TYPE_CHECKING:
    from integrations.connectors.dbt_records import DbtArtifacts, DbtJobRecord, DbtRunRecord
    from integrations.models import Integration, SyncRun

ROOT = Path(__file__).resolve().parent.parent
TUVA = ROOT / "tests" / "fixtures" / "tuva-manifest.json.gz"
TUVA_TARGET_S = 10.0
PEAK_TARGET_RATIO = 4.0
MULTI_JOB_TARGET_S = 1.5
JOB_ID, RUN_ID, PROJECT_ID = 4021, 9001, 70000000000310
FINISHED_AT = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
WRITES = ("INSERT", "UPDATE", "DELETE")
BULK = 5000


# --- The records a dbt Cloud sync yields --------------------------------------------------


def job_record(
    job_id: int = JOB_ID, name: str = "Prod nightly", steps: tuple[str, ...] = ("dbt build",)
) -> DbtJobRecord:
    from integrations.connectors.dbt_records import DbtJobRecord

    return DbtJobRecord(
        dbt_id=job_id,
        name=name,
        project_id=PROJECT_ID,
        project_name="bench",
        environment_id=555,
        environment_name="Production",
        environment_type="deployment",
        deployment_type="production",
        job_type="scheduled",
        schedule_cron="0 5 * * *",
        generate_docs=True,
        run_generate_sources=True,
        execute_steps=steps,
        url=f"https://cloud.getdbt.com/deploy/1/projects/{PROJECT_ID}/jobs/{job_id}",
    )


def run_record(
    run_id: int = RUN_ID, job_id: int = JOB_ID, finished_at: datetime = FINISHED_AT
) -> DbtRunRecord:
    from integrations.connectors.dbt_records import DbtRunRecord

    return DbtRunRecord(
        dbt_id=run_id,
        job_id=job_id,
        status_code=10,
        started_at=finished_at.replace(hour=finished_at.hour - 1),
        finished_at=finished_at,
        duration_seconds=3600.0,
        url=f"https://cloud.getdbt.com/runs/{run_id}/",
        trigger_cause="scheduled",
        git_sha="4be1c0f2",
        git_branch="main",
        has_docs_generated=False,
        has_sources_generated=False,
    )


@dataclass
class ArtifactFiles:
    """A run's artifacts as dbt Cloud serves them: uncompressed JSON."""

    manifest: Path
    run_results: Path | None = None
    sources: Path | None = None

    @property
    def manifest_bytes(self) -> int:
        return self.manifest.stat().st_size


def parse_files(
    files: ArtifactFiles,
    job_id: int = JOB_ID,
    run_id: int = RUN_ID,
    finished_at: datetime = FINISHED_AT,
    *,
    whole: bool = True,
) -> DbtArtifacts:
    """What the connector does with a run's downloads: the dicts are gone when it returns.
    `whole=False`: a run a newer one of the same project follows, read (as the walk reads
    it) without downloading or parsing its manifest."""
    from integrations.connectors.dbt_artifacts import (
        load_artifact,
        parse_artifacts_from_files,
        parse_run_facts,
    )
    from integrations.connectors.dbt_records import Provenance

    # As the connector does: the manifest is parsed from its (downloaded) file, node by node.
    loaded = {}
    for name, path in (("run_results.json", files.run_results), ("sources.json", files.sources)):
        if path is not None:
            loaded[name] = load_artifact(path.read_bytes(), name=name, run_id=run_id)
    if not whole:
        return parse_run_facts(
            run_results=loaded.get("run_results.json"),
            sources=loaded.get("sources.json"),
            catalog=None,
            provenance=Provenance(job_id=job_id, run_id=run_id, finished_at=finished_at),
            project_id=PROJECT_ID,
        )
    return parse_artifacts_from_files(
        manifest_path=files.manifest,
        run_results=loaded.get("run_results.json"),
        sources=loaded.get("sources.json"),
        catalog=None,
        provenance=Provenance(job_id=job_id, run_id=run_id, finished_at=finished_at),
        project_id=PROJECT_ID,
    )


# --- The catalog's side -------------------------------------------------------------------


POSTGRES_NAME_BYTES = 63


def create_warehouse(name: str, relations: list[Relation]) -> Integration:
    """A Postgres integration and its catalog rows, written directly: no warehouse to read."""
    from catalog.models import Column, Database, DescriptionSource, Schema, Table
    from catalog.services.matching import truncate
    from integrations.models import Integration

    # What PostgreSQL would hold: names cut at 63 bytes (Tuva has longer ones); two models
    # whose names are cut to the same one share one table, as they would there.
    kept: dict[tuple[str, str, str], Relation] = {}
    for r in relations:
        kept.setdefault((r.database, r.schema, truncate(r.name, POSTGRES_NAME_BYTES)), r)
    relations = list(kept.values())
    integration = Integration.objects.create(
        connector="postgres",
        name=name,
        config={
            "host": "127.0.0.1",
            "port": 5432,
            "database": relations[0].database,
            "user": "bench",
            "password": "",
            "sslmode": "disable",
        },
    )
    databases = {
        d.name: d
        for d in Database.objects.bulk_create(
            Database(integration=integration, name=n)
            for n in sorted({r.database for r in relations})
        )
    }
    schemas = {
        (s.database.name, s.name): s
        for s in Schema.objects.bulk_create(
            Schema(integration=integration, database=databases[db], name=schema)
            for db, schema in sorted({(r.database, r.schema) for r in relations})
        )
    }
    tables = Table.objects.bulk_create(
        [
            Table(
                integration=integration,
                schema=schemas[(r.database, r.schema)],
                name=truncate(r.name, POSTGRES_NAME_BYTES),
                kind=r.kind,
                description=r.comment,
                description_source=DescriptionSource.WAREHOUSE if r.comment else "",
            )
            for r in relations
        ],
        batch_size=BULK,
    )
    Column.objects.bulk_create(
        (
            Column(integration=integration, table=table, name=name, data_type=type_, ordinal=i)
            for table, r in zip(tables, relations, strict=True)
            for i, (name, type_) in enumerate(r.columns, 1)
        ),
        batch_size=BULK,
    )
    analyze()
    return integration


def analyze() -> None:
    """Fresh planner statistics, as a catalog that has lived a while has."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def create_dbt(name: str) -> Integration:
    from integrations.models import Integration

    return Integration.objects.create(
        connector="dbt_cloud",
        name=name,
        config={"account_id": 1, "access_url": "https://cloud.getdbt.com", "token": "x"},
    )


def clear_dbt_values(warehouse: Integration) -> None:
    """Undo what dbt wrote on the warehouse's tables and columns, so that the twin writes it
    again (the warehouse's own comments stay)."""
    from catalog.models import Column, Table

    for model in (Table, Column):
        rows = model.objects.filter(integration=warehouse)
        rows.filter(description_source="dbt").update(description="", description_source="")
        rows.filter(tags_source="dbt").update(tags=[], tags_source="")
        rows.filter(owners_source="dbt").update(owners=[], owners_source="")


def retire(warehouse: Integration) -> None:
    """Take a case's warehouse out of matching: its tables are flagged removed."""
    from catalog.models import Table

    Table.objects.filter(integration=warehouse).update(removed=True)


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Statements:
    total: int = 0
    by_verb: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    sql_bytes: int = 0
    writes: list[str] = field(default_factory=list)  # outside integrations_syncrun


def verb(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""


@contextmanager
def catalog_statements(enabled: bool) -> Iterator[Statements]:
    """Statements on Django's default connection, by verb; none counted when not enabled."""
    count = Statements()
    if not enabled:
        yield count
        return
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log = deque(maxlen=QUERY_LOG_LIMIT)
    with CaptureQueriesContext(connection) as captured:
        yield count
    if len(connection.queries_log) >= QUERY_LOG_LIMIT:
        raise BenchmarkFailed(f"More than {QUERY_LOG_LIMIT:,} statements: the count is cut short.")
    verbs: Counter[str] = Counter()
    for query in captured.captured_queries:
        sql = query["sql"]
        verbs[verb(sql)] += 1
        count.seconds += float(query["time"])
        count.sql_bytes += len(sql)
        if verb(sql) in WRITES and "integrations_syncrun" not in sql:
            count.writes.append(sql[:200])
    count.total = len(captured)
    count.by_verb = dict(verbs.most_common())
    connection.queries_log.clear()


class PeakTracer:
    """tracemalloc's peak per phase: `mark` ends a phase and starts the next one."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}

    def mark(self, phase: str) -> None:
        self.peaks[phase] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()


@contextmanager
def traced(enabled: bool) -> Iterator[PeakTracer | None]:
    if not enabled:
        yield None
        return
    tracer = PeakTracer()
    tracemalloc.start()
    try:
        yield tracer
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class Lap:
    """A moment, by the wall clock and by this process's CPU time (which other processes on
    a shared machine slow down less; the database server's work is not in it)."""

    wall: float
    cpu: float

    @classmethod
    def now(cls) -> Lap:
        return cls(time.perf_counter(), time.process_time())


@dataclass
class Step:
    """One call of the enrichment (parse + dbt_apply) or of dbt_apply alone."""

    name: str
    apply_s: float
    apply_cpu_s: float
    statements: Statements
    rss_growth_mib: float
    rss_peak_was_reset: bool
    counts: dict[str, Any]
    parse_s: float | None = None
    parse_cpu_s: float | None = None
    manifest_bytes: int | None = None
    python_peak_parse_mib: float | None = None
    python_peak_apply_mib: float | None = None
    traced_s: float | None = None
    repetitions_s: list[float] = field(default_factory=list)  # every timed total, sorted
    problems: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return (self.parse_s or 0.0) + self.apply_s

    @property
    def python_peak_mib(self) -> float | None:
        peaks = [p for p in (self.python_peak_parse_mib, self.python_peak_apply_mib) if p]
        return max(peaks) if peaks else None

    @property
    def peak_ratio(self) -> float | None:
        if self.python_peak_mib is None or not self.manifest_bytes:
            return None
        return self.python_peak_mib * MIB / self.manifest_bytes

    @property
    def rss_ratio(self) -> float | None:
        if not self.manifest_bytes:
            return None
        return self.rss_growth_mib * MIB / self.manifest_bytes


def new_run(integration: Integration) -> SyncRun:
    from integrations.models import SyncRun

    return SyncRun.objects.create(
        integration=integration, status=SyncRun.Status.RUNNING, started_at=datetime.now(UTC)
    )


def finish_run(run: SyncRun, counts: dict[str, Any]) -> None:
    from integrations.models import SyncRun

    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=datetime.now(UTC), counts=counts
    )


@dataclass(frozen=True)
class JobRun:
    """A job of the sync and its newest run, whose artifacts the sync reads."""

    job_id: int
    run_id: int
    name: str
    steps: tuple[str, ...]
    finished_at: datetime
    files: ArtifactFiles

    def records(self) -> list:
        return [
            job_record(self.job_id, self.name, self.steps),
            run_record(self.run_id, self.job_id, self.finished_at),
        ]


def single_job(files: ArtifactFiles) -> list[JobRun]:
    return [JobRun(JOB_ID, RUN_ID, "Prod nightly", ("dbt build",), FINISHED_AT, files)]


def enrich(
    name: str, dbt: Integration, runs: list[JobRun], *, trace: bool, profile: Path | None = None
) -> Step:
    """A sync that found a new run of each job: parse their artifacts, then apply them all
    in one dbt_apply, as sync_execute does with the records of one sync."""
    from catalog.services import dbt_apply
    from integrations.connectors.dbt_records import SyncState
    from integrations.services.sync import handed_over

    run = new_run(dbt)
    dbt.refresh_from_db()
    gc.collect()
    with (
        rss_growth() as rss,
        catalog_statements(not trace) as statements,
        traced(trace) as tracer,
    ):
        started = Lap.now()
        records: list = []
        newest = max(runs, key=lambda r: r.finished_at)  # one project: one manifest read
        for job_run in runs:
            records += job_run.records()
            records.append(
                parse_files(
                    job_run.files,
                    job_run.job_id,
                    job_run.run_id,
                    job_run.finished_at,
                    whole=job_run is newest,
                )
            )
        records.append(SyncState({"ingested_runs": {str(r.job_id): r.run_id for r in runs}}))
        parsed = Lap.now()
        if tracer:
            tracer.mark("parse")
        with profiled(profile):
            # handed over to dbt_apply, as sync_execute does
            counts = dbt_apply(integration=dbt, run=run, records=handed_over(records))
        applied = Lap.now()
        if tracer:
            tracer.mark("apply")
    finish_run(run, counts)
    peaks = tracer.peaks if tracer else {}
    return Step(
        name=name,
        parse_s=parsed.wall - started.wall,
        parse_cpu_s=parsed.cpu - started.cpu,
        apply_s=applied.wall - parsed.wall,
        apply_cpu_s=applied.cpu - parsed.cpu,
        statements=statements,
        rss_growth_mib=rss.growth_kib / 1024,
        rss_peak_was_reset=rss.peak_was_reset,
        counts=counts,
        manifest_bytes=max(r.files.manifest_bytes for r in runs),
        python_peak_parse_mib=peaks["parse"] / MIB if "parse" in peaks else None,
        python_peak_apply_mib=peaks["apply"] / MIB if "apply" in peaks else None,
        traced_s=applied.wall - started.wall if trace else None,
    )


def apply_no_new_run(name: str, dbt: Integration, runs: list[JobRun]) -> Step:
    """A sync whose jobs' newest runs were ingested already: no artifacts, nothing to write."""
    from catalog.services import dbt_apply

    run = new_run(dbt)
    dbt.refresh_from_db()
    gc.collect()
    with rss_growth() as rss, catalog_statements(True) as statements:
        started = Lap.now()
        records = [record for job_run in runs for record in job_run.records()]
        counts = dbt_apply(integration=dbt, run=run, records=records)
        applied = Lap.now()
    finish_run(run, counts)
    step = Step(
        name=name,
        apply_s=applied.wall - started.wall,
        apply_cpu_s=applied.cpu - started.cpu,
        statements=statements,
        rss_growth_mib=rss.growth_kib / 1024,
        rss_peak_was_reset=rss.peak_was_reset,
        counts=counts,
    )
    step.problems += [f"{name}: wrote {sql}" for sql in statements.writes]
    return step


@dataclass
class Case:
    """A manifest and the warehouse it was built into."""

    name: str
    runs: list[JobRun]
    relations: list[Relation]
    expected_match: dict[str, int]
    description: str
    models: int | None = None  # for the statement comparison between sizes
    multi_models: int | None = None  # the same, for the multi-job cases


def run_case(case: Case, suffix: str, args: argparse.Namespace) -> list[Step]:
    print(f"{case.name}: {case.description}", flush=True)
    print(f"{case.name}: creating the warehouse catalog ...", flush=True)
    warehouse = create_warehouse(f"{case.name} warehouse {suffix}", case.relations)
    traced_dbt = None if args.no_tracemalloc else create_dbt(f"{case.name} dbt traced {suffix}")
    profile = args.profile / f"{slug(case.name)}.prof" if args.profile else None

    # Each repetition is a first sync of a twin of its own; the median one is reported, as
    # a single wall time on a shared 2-core machine varies by a fifth from run to run.
    timed: list[tuple[Step, Integration]] = []
    for n in range(1, args.repeat + 1):
        if timed:
            clear_dbt_values(warehouse)
        print(f"{case.name}: timed enrichment {n} of {args.repeat} ...", flush=True)
        twin = create_dbt(f"{case.name} dbt {suffix} #{n}")
        timed.append((enrich(case.name, twin, case.runs, trace=False, profile=profile), twin))
        profile = None  # the first repetition's, when asked
    for each, _twin in timed:
        check_match(each, case.expected_match)
    timed.sort(key=lambda pair: pair[0].total_s)
    step, timed_dbt = timed[(len(timed) - 1) // 2]
    step.repetitions_s = sorted(each.total_s for each, _twin in timed)
    step.problems = [p for each, _twin in timed for p in each.problems]
    if traced_dbt is not None:
        clear_dbt_values(warehouse)
        print(f"{case.name}: traced enrichment ...", flush=True)
        twin = enrich(case.name, traced_dbt, case.runs, trace=True)
        check_match(twin, case.expected_match)
        step.python_peak_parse_mib = twin.python_peak_parse_mib
        step.python_peak_apply_mib = twin.python_peak_apply_mib
        step.traced_s = twin.traced_s
        step.problems += [f"{p} (traced twin)" for p in twin.problems]
    print(f"{case.name}: sync with no new run ...", flush=True)
    again = apply_no_new_run(f"{case.name}: no new run", timed_dbt, case.runs)
    retire(warehouse)
    return [step, again]


def check_match(step: Step, expected: dict[str, int]) -> None:
    got = step.counts.get("match_report", {})
    if got != expected:
        step.problems.append(f"{step.name}: match report {got}, expected {expected}")


def expected_match(manifest: dict[str, Any]) -> dict[str, int]:
    """Every relation node matched but the ephemeral models, which have no table."""
    report: Counter[str] = Counter()
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["resource_type"] not in ("model", "seed", "snapshot", "source"):
            continue
        config = node.get("config") or {}
        if config.get("enabled") is False:
            continue
        report["no_table" if config.get("materialized") == "ephemeral" else "matched"] += 1
    return dict(report)


def tuva_case(directory: Path) -> Case:
    with gzip.open(TUVA, "rb") as handle:
        raw = handle.read()
    path = directory / "tuva-manifest.json"
    path.write_bytes(raw)
    manifest = json.loads(raw)
    relations = warehouse_relations(manifest)
    kinds = Counter(
        n["resource_type"]
        for n in manifest["nodes"].values()
        if n["resource_type"] in ("model", "seed", "snapshot")
    )
    return Case(
        name="Tuva",
        runs=single_job(ArtifactFiles(manifest=path)),
        relations=relations,
        expected_match=expected_match(manifest),
        description=(
            f"{', '.join(f'{n} {k}s' for k, n in kinds.items())}; {len(relations)} tables, "
            f"{sum(len(r.columns) for r in relations):,} columns; manifest "
            f"{len(raw) / MIB:,.1f} MiB, no run_results"
        ),
    )


def generated_case(directory: Path, models: int, columns: int, seed: int) -> Case:
    project = plan_project(models=models, columns=columns, rng=random.Random(seed))
    name = f"{models:,} x {columns}"
    manifest = directory / f"manifest-{models}x{columns}.json"
    run_results = directory / f"run_results-{models}x{columns}.json"
    manifest.write_text(json.dumps(project.manifest))
    run_results.write_text(json.dumps(project.run_results))
    return Case(
        name=name,
        runs=single_job(ArtifactFiles(manifest=manifest, run_results=run_results)),
        relations=project.relations,
        expected_match=expected_match(project.manifest),
        models=models,
        description=(
            f"{models:,} models ({project.ephemeral} ephemeral), {project.sources:,} sources, "
            f"{project.tests:,} tests ({project.failing_tests} failing), "
            f"{project.exposures} exposures; {len(project.relations):,} tables, "
            f"{sum(len(r.columns) for r in project.relations):,} columns; manifest "
            f"{manifest.stat().st_size / MIB:,.1f} MiB, run_results "
            f"{run_results.stat().st_size / MIB:,.1f} MiB"
        ),
    )


# --- The multi-job case -------------------------------------------------------------------
# One sync reading three jobs' newest runs of the same project (issue 11): a freshness job
# (sources.json, and the whole project's manifest, compiling nothing), the nightly build
# (a result for every model, seed, snapshot and test), and a newer test job running every
# other test (its manifest compiled only those). Each run's artifacts are derived in memory
# from the case's manifest; Tuva declares no source, so one per seed (its table) is added
# to the project for the freshness job to check, in all three manifests.

MULTI_JOBS = (  # job id, run id, name, steps, finished at (hour)
    (4031, 9101, "Source freshness", ("dbt source freshness",), 4),
    (4032, 9102, "Nightly build", ("dbt build",), 5),
    (4033, 9103, "Half the tests", ("dbt test --select tag:hourly",), 6),
)
BUILT_TYPES = ("model", "seed", "snapshot")


def at(hour: int, minutes: float = 0.0) -> str:
    return (FINISHED_AT.replace(hour=hour) - timedelta(minutes=minutes)).isoformat()


def with_seed_sources(manifest: dict[str, Any]) -> dict[str, Any]:
    """A source per seed, on the seed's table, when the project declares none."""
    if manifest.get("sources"):
        return manifest
    sources = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "seed":
            continue
        uid = f"source.{node['package_name']}.raw.{node['name']}"
        sources[uid] = {
            "unique_id": uid,
            "resource_type": "source",
            "name": node["name"],
            "source_name": "raw",
            "package_name": node["package_name"],
            "original_file_path": "models/sources.yml",
            "database": node["database"],
            "schema": node["schema"],
            "identifier": node.get("alias") or node["name"],
            "relation_name": node.get("relation_name") or "",
            "loader": "fivetran",
            "description": "",
            "columns": {},
            "meta": {},
            "tags": [],
            "config": {"enabled": True},
            "freshness": {"warn_after": {"count": 24, "period": "hour"}},
            "loaded_at_field": "_loaded_at",
        }
    return {**manifest, "sources": sources}


def without_compiled(manifest: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """dbt writes the whole manifest on every command, compiled code only where it compiled."""
    nodes = {
        uid: node
        if uid in keep
        else {**node, "compiled": False, "compiled_code": None, "compiled_sql": None}
        for uid, node in manifest["nodes"].items()
    }
    return {**manifest, "nodes": nodes}


def result(uid: str, status: str, hour: int, index: int, failures: int | None = None) -> dict:
    done = at(hour, minutes=30 - index * 0.001)
    return {
        "status": status,
        "timing": [
            {"name": "compile", "started_at": done, "completed_at": done},
            {"name": "execute", "started_at": done, "completed_at": done},
        ],
        "thread_id": f"Thread-{index % 8}",
        "execution_time": 0.2,
        "adapter_response": {"_message": "SUCCESS 1", "code": "SUCCESS", "rows_affected": 1},
        "message": None if status in ("success", "pass") else f"Got {failures} results",
        "failures": failures,
        "unique_id": uid,
        "compiled": True,
        "compiled_code": None,
        "relation_name": None,
    }


def build_results(manifest: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The build's run_results: the case's own (generated projects), or one per enabled node
    (Tuva has none), 1 test in 50 failing."""
    if given is not None:
        return given
    hour = MULTI_JOBS[1][4]
    results = []
    for index, (uid, node) in enumerate(manifest["nodes"].items()):
        if (node.get("config") or {}).get("enabled") is False:
            continue
        if node["resource_type"] in BUILT_TYPES:
            results.append(result(uid, "success", hour, index))
        elif node["resource_type"] == "test":
            failing = index % 50 == 0
            results.append(
                result(uid, "fail" if failing else "pass", hour, index, 3 if failing else 0)
            )
    return {"metadata": {"generated_at": at(hour)}, "results": results, "elapsed_time": 600.0}


def half_the_tests(build: dict[str, Any]) -> dict[str, Any]:
    """Every other test of the build, all passing, an hour later."""
    hour = MULTI_JOBS[2][4]
    tests = [r for r in build["results"] if r["unique_id"].startswith("test.")][::2]
    results = [result(r["unique_id"], "pass", hour, i, 0) for i, r in enumerate(tests)]
    return {"metadata": {"generated_at": at(hour)}, "results": results, "elapsed_time": 60.0}


def freshness(manifest: dict[str, Any]) -> dict[str, Any]:
    hour = MULTI_JOBS[0][4]
    statuses = ("pass", "pass", "pass", "warn", "error")
    results = [
        {
            "unique_id": uid,
            "max_loaded_at": at(hour, minutes=90 + i),
            "snapshotted_at": at(hour, minutes=1),
            "max_loaded_at_time_ago_in_s": 5400.0 + 60 * i,
            "status": statuses[i % len(statuses)],
            "criteria": {"warn_after": {"count": 24, "period": "hour"}, "error_after": {}},
            "adapter_response": {},
            "timing": [],
            "thread_id": "Thread-1",
            "execution_time": 0.05,
        }
        for i, uid in enumerate(manifest["sources"])
    ]
    return {"metadata": {"generated_at": at(hour)}, "results": results, "elapsed_time": 12.0}


def multi_job_case(
    directory: Path, name: str, manifest: dict[str, Any], run_results: dict | None, **case: Any
) -> Case:
    project = with_seed_sources(manifest)
    build = build_results(project, run_results)
    tests = half_the_tests(build)
    tested = {r["unique_id"] for r in tests["results"]}
    stem = directory / slug(name)
    documents = {
        "freshness-manifest": without_compiled(project, set()),
        "freshness-sources": freshness(project),
        "build-manifest": project,
        "build-run_results": build,
        "tests-manifest": without_compiled(project, tested),
        "tests-run_results": tests,
    }
    paths = {}
    for key, document in documents.items():
        paths[key] = Path(f"{stem}-{key}.json")
        paths[key].write_text(json.dumps(document))
    files = (
        ArtifactFiles(paths["freshness-manifest"], sources=paths["freshness-sources"]),
        ArtifactFiles(paths["build-manifest"], run_results=paths["build-run_results"]),
        ArtifactFiles(paths["tests-manifest"], run_results=paths["tests-run_results"]),
    )
    runs = [
        JobRun(job_id, run_id, job_name, steps, FINISHED_AT.replace(hour=hour), job_files)
        for (job_id, run_id, job_name, steps, hour), job_files in zip(
            MULTI_JOBS, files, strict=True
        )
    ]
    sizes = " + ".join(f"{r.files.manifest_bytes / MIB:,.1f}" for r in runs)
    return Case(
        name=f"{name}, 3 jobs",
        runs=runs,
        relations=warehouse_relations(project),
        expected_match=expected_match(project),
        description=(
            f"the {name} project read from 3 jobs' runs in one sync: freshness of "
            f"{len(project['sources']):,} sources, a build ({len(build['results']):,} results), "
            f"a newer test job ({len(tests['results']):,} tests, every other one); manifests "
            f"{sizes} MiB"
        ),
        **case,
    )


# --- Output -------------------------------------------------------------------------------


def optional(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_counts(counts: dict[str, Any], kind: str) -> str:
    c = counts.get(kind) or {}
    if not c:
        return "-"
    return f"+{c.get('created', 0):,} ~{c.get('updated', 0):,} -{c.get('removed', 0):,}"


COUNT_KINDS = (
    "job",
    "run",
    "node",
    "test",
    "test_result",
    "exposure",
    "group",
    "match",
    "table_enriched",
    "column_enriched",
    "lineage",
    "test_link",
    "dbtexposure_link",
    "dbtjob_link",
)


def report_rows(steps: list[Step]) -> list[tuple[str, list[str]]]:
    verbs = sorted({v for s in steps for v in s.statements.by_verb})
    rows = [
        (
            "manifest on disk, MiB",
            [optional(s.manifest_bytes and s.manifest_bytes / MIB, ",.1f") for s in steps],
        ),
        (
            "parse (parse_artifacts_from_files + run_results), s",
            [optional(s.parse_s, ",.2f") for s in steps],
        ),
        ("  its CPU time in this process, s", [optional(s.parse_cpu_s, ",.2f") for s in steps]),
        ("dbt_apply, s", [f"{s.apply_s:,.2f}" for s in steps]),
        ("  its CPU time in this process, s", [f"{s.apply_cpu_s:,.2f}" for s in steps]),
        ("total, s", [f"{s.total_s:,.2f}" for s in steps]),
        (
            "  every repetition's total, s",
            [" ".join(f"{t:.2f}" for t in s.repetitions_s) or "-" for s in steps],
        ),
        ("catalog SQL statements in dbt_apply", [f"{s.statements.total:,}" for s in steps]),
    ]
    rows += [(f"  {v}", [f"{s.statements.by_verb.get(v, 0):,}" for s in steps]) for v in verbs]
    rows += [
        (
            "  their time as the debug cursor saw it, s",
            [f"{s.statements.seconds:,.2f}" for s in steps],
        ),
        ("  their SQL text, MiB", [f"{s.statements.sql_bytes / MIB:,.1f}" for s in steps]),
        ("  writes outside integrations_syncrun", [f"{len(s.statements.writes):,}" for s in steps]),
        ("RSS growth (peak ru_maxrss - start), MiB", [f"{s.rss_growth_mib:,.1f}" for s in steps]),
        ("  / manifest size", [optional(s.rss_ratio, ".1f") for s in steps]),
        (
            "Python peak (tracemalloc, twin), MiB",
            [optional(s.python_peak_mib, ",.1f") for s in steps],
        ),
        ("  during the parse", [optional(s.python_peak_parse_mib, ",.1f") for s in steps]),
        ("  during dbt_apply", [optional(s.python_peak_apply_mib, ",.1f") for s in steps]),
        ("  / manifest size", [optional(s.peak_ratio, ".2f") for s in steps]),
        ("  twin's time under tracemalloc, s", [optional(s.traced_s, ",.2f") for s in steps]),
        ("match report", [format_match(s.counts.get("match_report")) for s in steps]),
        ("counts: +created ~updated -removed", ["" for _ in steps]),
    ]
    rows += [(f"  {k}", [format_counts(s.counts, k) for s in steps]) for k in COUNT_KINDS]
    return rows


def format_match(report: dict[str, int] | None) -> str:
    if not report:
        return "-"
    return " ".join(f"{k} {v:,}" for k, v in sorted(report.items()))


def print_table(steps: list[Step]) -> None:
    print_columns([s.name for s in steps], report_rows(steps))


@dataclass
class Verdict:
    target: str
    met: bool | None  # None: not measured in this invocation
    detail: str


def verdicts(steps: list[Step], cases: list[Case]) -> list[Verdict]:
    by_name = {s.name: s for s in steps}
    return [
        tuva_verdict(by_name.get("Tuva")),
        statements_verdict(by_name, [c for c in cases if c.models]),
        peak_verdict(steps),
        multi_job_time_verdict(by_name.get("Tuva"), by_name.get("Tuva, 3 jobs")),
        statements_verdict(
            by_name,
            [replace(c, models=c.multi_models) for c in cases if c.multi_models],
            target="multi-job statement count independent of the number of models",
        ),
    ]


def multi_job_time_verdict(single: Step | None, multi: Step | None) -> Verdict:
    target = (
        f"Tuva read from 3 jobs in under {MULTI_JOB_TARGET_S} s per sync "
        "(the single-job figure of issue 11)"
    )
    if multi is None:
        return Verdict(target, None, "not run")
    detail = f"{multi.total_s:,.2f} s (parse {multi.parse_s:,.2f} + dbt_apply {multi.apply_s:,.2f})"
    if single is not None:
        # The absolute figure moves with the machine's speed and load: the same invocation's
        # one-job case is the comparison that does not.
        ratio = multi.total_s / single.total_s if single.total_s else 0.0
        detail += f"; one job: {single.total_s:,.2f} s, so {ratio:.2f}x one job"
    return Verdict(target, multi.total_s < MULTI_JOB_TARGET_S, detail)


def tuva_verdict(tuva: Step | None) -> Verdict:
    target = f"Tuva enriched in under {TUVA_TARGET_S:.0f} s"
    if tuva is None:
        return Verdict(target, None, "not run")
    detail = f"{tuva.total_s:,.2f} s (parse {tuva.parse_s:,.2f} + dbt_apply {tuva.apply_s:,.2f})"
    return Verdict(target, tuva.total_s < TUVA_TARGET_S, detail)


def statements_verdict(
    by_name: dict[str, Step],
    sized: list[Case],
    target: str = "statement count independent of the number of models",
) -> Verdict:
    if len(sized) < 2:
        return Verdict(target, None, "needs two sizes")
    first = {c.models: by_name[c.name].statements.total for c in sized}
    again = {c.models: by_name[f"{c.name}: no new run"].statements.total for c in sized}
    detail = (
        ", ".join(f"{m:,} models: {n:,}" for m, n in first.items())
        + "; with no new run: "
        + ", ".join(f"{m:,} models: {n:,}" for m, n in again.items())
    )
    return Verdict(target, len(set(first.values())) == 1 and len(set(again.values())) == 1, detail)


def peak_verdict(steps: list[Step]) -> Verdict:
    target = f"peak memory under {PEAK_TARGET_RATIO:.0f}x the manifest's size on disk"
    ratios = [(s.name, s.peak_ratio) for s in steps if s.peak_ratio is not None]
    if not ratios:
        return Verdict(target, None, "no traced twin (--no-tracemalloc)")
    detail = ", ".join(f"{n}: {r:.2f}x" for n, r in ratios)
    return Verdict(target, all(r < PEAK_TARGET_RATIO for _n, r in ratios), detail)


def format_load(load: tuple[float, ...]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def print_report(summary: dict[str, Any], steps: list[Step], targets: list[Verdict]) -> None:
    print()
    print(f"Code at commit {summary['commit']}")
    print(
        f"Catalog {summary['catalog']['database']}: migrated in {summary['catalog']['migrate_s']:.1f} s"
    )
    print(
        f"Load average (1, 5, 15 min) at the start {format_load(summary['load_average']['start'])},"
        f" at the end {format_load(summary['load_average']['end'])}, on {summary['cpus']} CPUs:"
        " other processes slow the wall times down, the CPU times less so."
    )
    for case in summary["cases"]:
        print(f"  {case['name']}: {case['description']}")
    print()
    print_table(steps)
    print()
    print("Targets:")
    if summary["arguments"]["profile"]:
        print("  (times measured under cProfile, which slows dbt_apply about twofold)")
    for v in targets:
        state = {True: "MET", False: "MISSED", None: "not measured"}[v.met]
        print(f"  {state:>12}  {v.target}: {v.detail}")
    print()


# --- Main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dbt_enrichment", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--models", type=int, default=10_000, help="models in the generated project"
    )
    parser.add_argument("--columns", type=int, default=20, help="columns per generated model")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        help="model counts of the generated projects, comma-separated "
        "(default: --models/10 and --models)",
    )
    parser.add_argument("--skip-tuva", action="store_true", help="only the generated projects")
    parser.add_argument(
        "--skip-multi-job", action="store_true", help="no Tuva case read from three jobs"
    )
    parser.add_argument(
        "--multi-job-generated",
        action="store_true",
        help="each generated project read from three jobs too (the multi-job statement target)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed enrichments per case, each on a twin of its own; the median is reported",
    )
    parser.add_argument("--seed", type=int, default=1)
    add_server_arguments(parser)
    parser.add_argument(
        "--catalog-url", help="a DATABASE_URL for the catalog instead of a new database"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the catalog database")
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip the traced twins (and the Python peak)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write a cProfile of each timed dbt_apply here (and slow it down)",
    )
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = sorted({max(10, args.models // 10), args.models})
    if min(args.sizes) < 10 or args.columns < 1:
        parser.error("needs at least 10 models and 1 column")
    if args.repeat < 1:
        parser.error("--repeat needs at least 1")
    return args


def commit() -> str:
    """The checked-out commit (uncommitted changes not told apart: that would need a command
    that refreshes the index)."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def run_benchmark(
    args: argparse.Namespace, catalog_url: str, directory: Path
) -> tuple[dict, list[Step]]:
    load_start = os.getloadavg()
    print("Migrating the catalog database ...", flush=True)
    migrate_s = setup_django(catalog_url)
    suffix = uuid.uuid4().hex[:6]
    cases: list[Case] = []
    steps: list[Step] = []
    if not args.skip_tuva:
        cases.append(tuva_case(directory))
        steps += run_case(cases[-1], suffix, args)
        if not args.skip_multi_job:
            with gzip.open(TUVA, "rt") as handle:
                tuva = json.load(handle)
            cases.append(multi_job_case(directory, "Tuva", tuva, None))
            del tuva
            steps += run_case(cases[-1], suffix, args)
    for models in args.sizes:
        print(f"Generating {models:,} models x {args.columns} columns ...", flush=True)
        cases.append(generated_case(directory, models, args.columns, args.seed))
        steps += run_case(cases[-1], suffix, args)
        if args.multi_job_generated:
            project = plan_project(
                models=models, columns=args.columns, rng=random.Random(args.seed)
            )
            cases.append(
                multi_job_case(
                    directory,
                    f"{models:,} x {args.columns}",
                    project.manifest,
                    project.run_results,
                    multi_models=models,
                )
            )
            del project
            steps += run_case(cases[-1], suffix, args)
    summary = {
        "arguments": {
            **vars(args),
            "json": str(args.json) if args.json else None,
            "profile": str(args.profile) if args.profile else None,
            "catalog_url": without_password(args.catalog_url),
        },
        "catalog": {
            "database": urlsplit(catalog_url).path.rsplit("/", 1)[-1],
            "migrate_s": migrate_s,
        },
        "cases": [
            {"name": c.name, "description": c.description, "models": c.models} for c in cases
        ],
        "commit": commit(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "cpus": os.cpu_count(),
    }
    summary["targets"] = [asdict(v) for v in verdicts(steps, cases)]
    return summary, steps


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = Server(args.pg_host, args.pg_port, args.pg_user)
    catalog_db = None if args.catalog_url else f"bench_dbtcat_{uuid.uuid4().hex[:10]}"
    if catalog_db:
        server.create_database(catalog_db)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_dbt_") as directory:
            summary, steps = run_benchmark(
                args, args.catalog_url or server.url(catalog_db), Path(directory)
            )
    finally:
        cleanup(server, args.keep, [catalog_db])
    targets = [Verdict(**v) for v in summary["targets"]]
    print_report(summary, steps, targets)
    if args.json:
        summary["steps"] = [
            {
                **asdict(s),
                "total_s": s.total_s,
                "python_peak_mib": s.python_peak_mib,
                "peak_ratio": s.peak_ratio,
                "rss_ratio": s.rss_ratio,
            }
            for s in steps
        ]
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        print(f"Figures written to {args.json}")
    problems = [problem for s in steps for problem in s.problems]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    run_main(main)
