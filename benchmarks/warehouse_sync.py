"""How long a PostgreSQL warehouse sync takes, what memory it needs and how many statements
it sends to the catalog database: a benchmark to run by hand, not a test.

Run it from the project root, with a PostgreSQL server that trusts local connections:

    .venv/bin/python -m benchmarks.warehouse_sync                        # 2,000 tables x 25 columns
    .venv/bin/python -m benchmarks.warehouse_sync --tables 200 --columns 10 --json bench.json
    .venv/bin/python -m benchmarks.warehouse_sync --catalog-url sqlite:////tmp/bench.sqlite3
    .venv/bin/python -m benchmarks.warehouse_sync --profile /tmp/prof   # then: python -m pstats ...

Steps:
1. Creates a warehouse database `bench_wh_<hex>` and builds N tables x M columns in it over a few
   schemas: a primary key on each table, foreign keys to other tables, COMMENTs on a share of
   tables and columns, some views and materialized views, varied types. The DDL goes in a few
   large statements; the build is timed on its own.
2. Points Django at a fresh catalog database `bench_catalog_<hex>` on the same server (or at
   `--catalog-url`) and migrates it.
3. Connects two Postgres integrations to the warehouse (`integration_create`), twins, and runs
   their syncs in this process, calling `sync_execute` on a new SyncRun (no worker, no broker):
   a first full sync, a re-sync of the unchanged warehouse, and a re-sync after ~1% of it changed
   (comments altered, a column added to a few tables, a table dropped). Each step syncs the
   timed twin bare, then the traced twin under tracemalloc, which slows Python down several
   times over and adds its own bookkeeping to the RSS. The catalog holds both twins' objects.

Figures per step, from the timed twin unless said otherwise:
- wall time of `sync_execute`, and the share of it inside `catalog_apply` (the rest is the
  extraction from the warehouse and the run's bookkeeping: claim, progress, finish);
- RSS growth: the process's peak resident set during the sync (getrusage's ru_maxrss, whose
  high-water mark is reset beforehand through /proc/self/clear_refs) minus the resident set when
  the sync started. It counts everything: Python objects, the driver's C buffers, arenas;
- Python peak, from the traced twin: tracemalloc's peak of Python allocations during the sync.
  It includes the statements the debug cursor keeps (`captured_sql_mib` in the JSON);
- catalog SQL statements: statements sent on Django's default connection, counted with
  CaptureQueriesContext (which forces the debug cursor whatever settings.DEBUG says). The
  warehouse reads go through the connector's own connection and are not counted;
- the run's counts, created/updated/removed per level.

It exits with status 1 when a sync fails, when the unchanged re-sync counts anything but zeros,
or when a sync's counts differ from what the warehouse holds or what was changed. The databases
it created are dropped at the end, failed or not, unless --keep. The warehouse itself is built by
`benchmarks.synthetic`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
import tracemalloc
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .cli import BenchmarkFailed, add_server_arguments, print_columns, run_main
from .synthetic import (
    LEVELS,
    Server,
    Warehouse,
    plan_changes,
    plan_warehouse,
    warehouse_sql,
    zero_counts,
)

# Django keeps the last 9,000 statements only; a large sync sends more.
QUERY_LOG_LIMIT = 10_000_000
MIB = 1024 * 1024


# --- Django and the syncs -----------------------------------------------------------------


def setup_django(database_url: str) -> float:
    """Point the settings at the catalog database and migrate it; returns the migrate seconds."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the sync's INFO lines would drown the table
    import django
    from django.core.management import call_command

    django.setup()
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    return time.perf_counter() - started


def create_integration(server: Server, warehouse_db: str, name: str):
    from integrations.services import integration_create

    config = {
        "host": server.host,
        "port": server.port,
        "database": warehouse_db,
        "user": server.user,
        "password": "",
        "sslmode": "disable",
    }
    return integration_create(
        connector_key="postgres", name=name, config=config, test_connection=True
    )


@dataclass
class Reading:
    value: float = 0.0


@dataclass
class RssReading:
    start_kib: int = 0
    peak_kib: int = 0
    peak_was_reset: bool = False

    @property
    def growth_kib(self) -> int:
        return max(0, self.peak_kib - self.start_kib)


def current_rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (what ru_maxrss reports), where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextmanager
def rss_growth() -> Iterator[RssReading]:
    reading = RssReading(start_kib=current_rss_kib(), peak_was_reset=reset_peak_rss())
    if not reading.peak_was_reset:
        # ru_maxrss then keeps the whole process's peak: only growth past it shows.
        reading.start_kib = max(
            reading.start_kib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
    try:
        yield reading
    finally:
        reading.peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@contextmanager
def python_peak(enabled: bool) -> Iterator[Reading | None]:
    if not enabled:
        yield None
        return
    reading = Reading()
    tracemalloc.start()
    try:
        yield reading
    finally:
        reading.value = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


@dataclass
class StatementCount:
    total: int = 0
    seconds: float = 0.0
    sql_bytes: int = 0


@contextmanager
def catalog_statements() -> Iterator[StatementCount]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log = deque(maxlen=QUERY_LOG_LIMIT)
    count = StatementCount()
    with CaptureQueriesContext(connection) as captured:
        yield count
    count.total = len(captured)
    if len(connection.queries_log) >= QUERY_LOG_LIMIT:
        raise BenchmarkFailed(f"More than {QUERY_LOG_LIMIT:,} statements: the count is cut short.")
    count.seconds = sum(float(q["time"]) for q in connection.queries_log)
    count.sql_bytes = sum(len(q["sql"]) for q in connection.queries_log)
    connection.queries_log.clear()


@dataclass
class ApplyProbe:
    seconds: float = 0.0
    statements: int = 0


@contextmanager
def probe_catalog_apply() -> Iterator[ApplyProbe]:
    """Time catalog_apply and count its statements, by wrapping the name sync.py calls it by."""
    from django.db import connection

    from integrations.services import sync as sync_module

    probe = ApplyProbe()
    original = sync_module.catalog_apply

    def timed(**kwargs: Any) -> Any:
        before, started = len(connection.queries_log), time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            probe.seconds += time.perf_counter() - started
            probe.statements += len(connection.queries_log) - before

    sync_module.catalog_apply = timed
    try:
        yield probe
    finally:
        sync_module.catalog_apply = original


@dataclass
class PhaseResult:
    name: str
    wall_s: float
    apply_s: float
    python_peak_mib: float | None  # from the traced twin, when there is one
    traced_wall_s: float | None
    rss_growth_mib: float
    rss_peak_mib: float
    rss_peak_was_reset: bool
    catalog_statements: int
    catalog_sql_s: float
    apply_statements: int
    captured_sql_mib: float
    counts: dict[str, dict[str, int]]
    warnings: int
    problems: list[str] = field(default_factory=list)


@dataclass
class Twins:
    """Two integrations of one warehouse: one synced bare, for time, RSS and statements; the
    other under tracemalloc, which slows Python several times over, for the Python peak."""

    timed: Any
    traced: Any | None


def run_phase(
    name: str,
    twins: Twins,
    expected: dict[str, dict[str, int]],
    profile_dir: Path | None,
) -> PhaseResult:
    print(f"{name}: timed sync ...", flush=True)
    result = measure_sync(name, twins.timed, trace=False, profile_dir=profile_dir)
    check_counts(result, expected)
    if twins.traced is not None:
        print(f"{name}: traced sync ...", flush=True)
        traced = measure_sync(name, twins.traced, trace=True)
        check_counts(traced, expected)
        result.python_peak_mib = traced.python_peak_mib
        result.traced_wall_s = traced.wall_s
        result.problems += [f"{problem} (traced twin)" for problem in traced.problems]
    return result


@contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def measure_sync(
    name: str, integration, *, trace: bool, profile_dir: Path | None = None
) -> PhaseResult:
    from integrations.models import SyncRun
    from integrations.services import SyncOutcome, sync_execute

    run = SyncRun.objects.create(integration=integration, trigger=SyncRun.Trigger.MANUAL)
    profile = profile_dir / f"{slug(name)}.prof" if profile_dir else None
    gc.collect()
    with (
        rss_growth() as rss,
        python_peak(trace) as peak,
        catalog_statements() as statements,
        probe_catalog_apply() as apply,
        profiled(profile),
    ):
        started = time.perf_counter()
        outcome = sync_execute(run=run)
        wall = time.perf_counter() - started
    run.refresh_from_db()
    if outcome is not SyncOutcome.SUCCEEDED or run.status != SyncRun.Status.SUCCEEDED:
        raise BenchmarkFailed(f"{name}: sync #{run.pk} ended {run.status} ({outcome}): {run.error}")
    return PhaseResult(
        name=name,
        wall_s=wall,
        apply_s=apply.seconds,
        python_peak_mib=peak.value / MIB if peak else None,
        traced_wall_s=wall if trace else None,
        rss_growth_mib=rss.growth_kib / 1024,
        rss_peak_mib=rss.peak_kib / 1024,
        rss_peak_was_reset=rss.peak_was_reset,
        catalog_statements=statements.total,
        catalog_sql_s=statements.seconds,
        apply_statements=apply.statements,
        captured_sql_mib=statements.sql_bytes / MIB,
        counts={level: run.counts.get(level, {}) for level in LEVELS},
        warnings=len(run.warnings) + run.warnings_dropped,
    )


def check_counts(phase: PhaseResult, expected: dict[str, dict[str, int]]) -> None:
    for level in LEVELS:
        for kind, want in expected[level].items():
            got = phase.counts[level].get(kind, 0)
            if got != want:
                phase.problems.append(f"{phase.name}: {level} {kind} is {got}, expected {want}")


def first_sync_expected(warehouse: Warehouse, schemas: int) -> dict[str, dict[str, int]]:
    expected = zero_counts()
    expected["database"]["created"] = 1
    expected["schema"]["created"] = schemas
    expected["table"]["created"] = len(warehouse.relations)
    expected["column"]["created"] = warehouse.column_count
    return expected


# --- Output -------------------------------------------------------------------------------


def format_counts(counts: dict[str, int]) -> str:
    return (
        f"+{counts.get('created', 0):,} ~{counts.get('updated', 0):,} -{counts.get('removed', 0):,}"
    )


def report_rows(phases: list[PhaseResult]) -> list[tuple[str, list[str]]]:
    def optional(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    rows = [
        ("wall time, s", [f"{p.wall_s:,.2f}" for p in phases]),
        ("  in catalog_apply, s", [f"{p.apply_s:,.2f}" for p in phases]),
        (
            "  extraction + run bookkeeping, s",
            [f"{p.wall_s - p.apply_s:,.2f}" for p in phases],
        ),
        (
            "RSS growth (peak ru_maxrss - start), MiB",
            [f"{p.rss_growth_mib:,.1f}" for p in phases],
        ),
        (
            "Python peak (tracemalloc, twin), MiB",
            [optional(p.python_peak_mib, ",.1f") for p in phases],
        ),
        (
            "  twin's wall time under tracemalloc, s",
            [optional(p.traced_wall_s, ",.2f") for p in phases],
        ),
        ("catalog SQL statements", [f"{p.catalog_statements:,}" for p in phases]),
        ("  in catalog_apply", [f"{p.apply_statements:,}" for p in phases]),
        ("  their time as the debug cursor saw it, s", [f"{p.catalog_sql_s:,.2f}" for p in phases]),
        ("counts: +created ~updated -removed", ["" for _ in phases]),
    ]
    rows += [(f"  {level}s", [format_counts(p.counts[level]) for p in phases]) for level in LEVELS]
    rows.append(("warnings", [str(p.warnings) for p in phases]))
    return rows


def print_report(summary: dict[str, Any], phases: list[PhaseResult]) -> None:
    wh = summary["warehouse"]
    print()
    print(
        f"Warehouse {wh['database']}: {wh['tables']:,} tables + {wh['views']} views, "
        f"{wh['columns']:,} columns in {wh['schemas']} schemas; built in {wh['build_s']:.1f} s "
        f"({wh['statements']} statements)"
    )
    print(
        f"Catalog {summary['catalog']['database']}: migrated in {summary['catalog']['migrate_s']:.1f} s"
    )
    print(f"Changes before the last sync: {summary['changes']}")
    print()
    print_columns([p.name for p in phases], report_rows(phases))
    print()


# --- Main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.warehouse_sync", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=25, help="columns per table")
    parser.add_argument("--schemas", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    add_server_arguments(parser)
    parser.add_argument(
        "--catalog-url", help="a DATABASE_URL for the catalog instead of a new database"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the traced twin syncs (and the Python peak)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write a cProfile of each timed sync here (and slow it down)",
    )
    args = parser.parse_args(argv)
    if args.tables < 10 or args.columns < 1 or args.schemas < 1:
        parser.error("needs at least 10 tables, 1 column and 1 schema")
    return args


def run_benchmark(
    args: argparse.Namespace, server: Server, warehouse_db: str, catalog_url: str
) -> tuple[dict[str, Any], list[PhaseResult]]:
    rng = random.Random(args.seed)
    warehouse = plan_warehouse(
        tables=args.tables, columns=args.columns, schemas=args.schemas, rng=rng
    )
    statements = warehouse_sql(warehouse)
    server.create_database(warehouse_db)
    print(
        f"Building {warehouse_db}: {args.tables:,} tables x {args.columns} columns ...",
        flush=True,
    )
    build_s = server.run_script(warehouse_db, statements)
    changes = plan_changes(warehouse, rng)

    print("Migrating the catalog database ...", flush=True)
    migrate_s = setup_django(catalog_url)
    twins = Twins(
        timed=create_integration(server, warehouse_db, name=f"Benchmark {warehouse_db}"),
        traced=None
        if args.no_tracemalloc
        else create_integration(
            server, warehouse_db, name=f"Benchmark {warehouse_db} (tracemalloc)"
        ),
    )
    schemas = server.user_schema_count(warehouse_db)
    phases = [
        run_phase("first sync", twins, first_sync_expected(warehouse, schemas), args.profile),
        run_phase("no change", twins, zero_counts(), args.profile),
    ]
    server.run_script(warehouse_db, [changes.sql])
    phases.append(run_phase("~1% changed", twins, changes.expected, args.profile))

    summary = {
        "arguments": {
            **vars(args),
            "json": str(args.json) if args.json else None,
            "profile": str(args.profile) if args.profile else None,
            "catalog_url": without_password(args.catalog_url),
        },
        "warehouse": {
            "database": warehouse_db,
            "tables": len(warehouse.tables),
            "views": len(warehouse.views),
            "columns": warehouse.column_count,
            "schemas": len(warehouse.schemas),
            "build_s": build_s,
            "statements": len(statements),
        },
        "catalog": {
            "database": urlsplit(catalog_url).path.rsplit("/", 1)[-1],
            "migrate_s": migrate_s,
        },
        "changes": changes.summary,
    }
    return summary, phases


def without_password(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = Server(args.pg_host, args.pg_port, args.pg_user)
    suffix = uuid.uuid4().hex[:10]
    warehouse_db = f"bench_wh_{suffix}"
    catalog_db = None if args.catalog_url else f"bench_catalog_{suffix}"
    if catalog_db:
        server.create_database(catalog_db)
    try:
        summary, phases = run_benchmark(
            args, server, warehouse_db, args.catalog_url or server.url(catalog_db)
        )
    finally:
        cleanup(server, args.keep, [warehouse_db, catalog_db])
    print_report(summary, phases)
    if args.json:
        summary["phases"] = [asdict(p) for p in phases]
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"Figures written to {args.json}")
    problems = [problem for p in phases for problem in p.problems]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cleanup(server: Server, keep: bool, databases: list[str | None]) -> None:
    if "django.apps" in sys.modules:
        from django.apps import apps
        from django.db import connections

        if apps.ready:
            connections.close_all()
    names = [name for name in databases if name]
    if keep:
        print(f"Kept: {', '.join(names)}")
        return
    for name in names:
        server.drop_database(name)


if __name__ == "__main__":
    run_main(main)
