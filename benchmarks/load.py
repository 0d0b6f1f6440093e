"""How the web server holds up under concurrent readers while a sync runs: a load test to run
by hand, not a test (issue 12).

Run it from the project root, with PostgreSQL (trusting local connections) and Redis:

    .venv/bin/python -m benchmarks.load                          # 50 clients, 30 s, 20,000 tables
    .venv/bin/python -m benchmarks.load --clients 20 --seconds 10 --tables 2000 --json load.json

Steps:
1. Creates a catalog database `bench_load_<hex>` and fills it as benchmarks.catalog_search does
   (N tables x M columns over two warehouses, a dbt project over 5% of them, the search
   indexes built after the fill), and a warehouse database `bench_load_wh_<hex>` of W tables
   for the sync (benchmarks.synthetic).
2. Starts the real servers on loopback, as bin/run does: gunicorn (`--web-workers`, default 2)
   and a Celery worker on a Redis db of its own; connects the warehouse as a Postgres
   integration and keeps a sync of it running for the whole load (each one queued again as the
   previous finishes).
3. --clients threads, each with its own logged-in session (and, for the API, a personal
   token), loop for --seconds over: a search (GET /catalog/?q=...), a table page
   (GET /catalog/tables/<id>/) and the read API (GET /api/v1/search/, /api/v1/tables/<id>/).

Figures: requests per second, and per kind and overall: count, p50, p95 and max latency in
ms, and the error rate (any answer but 200, or no answer). Also the syncs that finished
during the load and their durations. The client threads share this process's GIL: the figures
include that cost, as a far-away client's would include its network.

The databases are dropped and the servers stopped at the end, failed or not, unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import catalog_search
from .cli import BenchmarkFailed, add_server_arguments, print_columns, run_main
from .synthetic import Server, plan_warehouse, warehouse_sql
from .warehouse_sync import setup_django

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-load-pw-1"
WORDS = ["orders", "customer", "payments", "fct_", "stg_sessions", "revenue", "daily", "id"]


@dataclass
class Kind:
    times_ms: list[float] = field(default_factory=list)
    errors: int = 0


def percentile(values: list[float], p: float) -> float:
    return catalog_search.percentile(values, p) if values else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tables", type=int, default=20_000)
    parser.add_argument("--columns-per-table", type=int, default=10)
    parser.add_argument("--warehouse-tables", type=int, default=500)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    add_server_arguments(parser)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.tables < 100:
        parser.error("needs a client, a positive duration and at least 100 tables")
    return args


def build_catalog(server: Server, dbname: str, args: argparse.Namespace) -> None:
    print(
        f"catalog database {dbname}: migrating and filling {args.tables:,} tables ...", flush=True
    )
    setup_django(server.url(dbname))
    catalog_search.search_indexes("drop")
    ids = catalog_search.create_integrations()
    fill_args = argparse.Namespace(tables=args.tables, columns_per_table=args.columns_per_table)
    catalog_search.fill(server, dbname, fill_args, ids)
    print("building the search indexes, VACUUM ANALYZE ...", flush=True)
    catalog_search.search_indexes("create")
    catalog_search.vacuum_analyze(server, dbname)


def build_warehouse(server: Server, dbname: str, tables: int) -> None:
    print(f"warehouse database {dbname}: {tables:,} tables ...", flush=True)
    server.create_database(dbname)
    plan = plan_warehouse(tables=tables, columns=15, schemas=5, rng=random.Random(1))
    server.run_script(dbname, warehouse_sql(plan))


def accounts(clients: int) -> tuple[list[str], str]:
    """The readers' user names (analysts), and one API token they share."""
    from django.contrib.auth.models import Group, User

    from catalog.models import ApiToken

    analysts = Group.objects.get(name="Analysts")
    names = []
    for n in range(clients):
        user = User.objects.create_user(f"reader{n}", password=PASSWORD)
        user.groups.add(analysts)
        names.append(user.username)
    token = ApiToken.issue(user=User.objects.get(username=names[0]), name="load")[1]
    return names, token


def start_servers(env: dict[str, str], port: int, web_workers: int, log_dir: Path):
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(web_workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log_dir / "web.log", "w"),
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--logfile",
            str(log_dir / "worker.log"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return web, worker


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise BenchmarkFailed(f"{url} did not come up")


def logged_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=30)
    response = session.post(
        f"{base}/login/",
        {
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise BenchmarkFailed(f"logging in {username} answered {response.status_code}")
    return session


class SyncLoop(threading.Thread):
    """Keeps a sync of the warehouse running: each one queued as the previous ends."""

    def __init__(self, integration, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.integration = integration
        self.stop = stop
        self.finished: list[tuple[str, float]] = []

    def run(self) -> None:
        from django.db import connection

        from integrations.models import SyncRun
        from integrations.services import sync_start

        try:
            while not self.stop.is_set():
                run = sync_start(integration=self.integration, trigger=SyncRun.Trigger.MANUAL)
                while not self.stop.is_set():
                    run.refresh_from_db()
                    if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
                        took = (run.finished_at - run.started_at).total_seconds()
                        self.finished.append((run.status, took))
                        break
                    time.sleep(0.2)
        finally:
            connection.close()


def reader(
    base: str,
    session: requests.Session,
    token: str,
    table_ids: list[int],
    until: float,
    results: dict[str, Kind],
    lock: threading.Lock,
    seed: int,
) -> None:
    rng = random.Random(seed)
    api = {"Authorization": f"Token {token}"}
    mine: dict[str, Kind] = defaultdict(Kind)
    while time.monotonic() < until:
        word, table = rng.choice(WORDS), rng.choice(table_ids)
        for kind, url, headers in (
            ("search page", f"{base}/catalog/?q={word}", None),
            ("table page", f"{base}/catalog/tables/{table}/", None),
            ("API search", f"{base}/api/v1/search/?q={word}", api),
            ("API table", f"{base}/api/v1/tables/{table}/", api),
        ):
            started = time.perf_counter()
            try:
                ok = session.get(url, headers=headers, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            mine[kind].times_ms.append((time.perf_counter() - started) * 1000)
            mine[kind].errors += not ok
            if time.monotonic() >= until:
                break
    with lock:
        for kind, found in mine.items():
            results[kind].times_ms += found.times_ms
            results[kind].errors += found.errors


def run_load(args: argparse.Namespace, server: Server, dbname: str, warehouse_db: str) -> int:
    os.environ["CELERY_BROKER_URL"] = args.broker_url  # before Django reads its settings
    build_catalog(server, dbname, args)
    build_warehouse(server, warehouse_db, args.warehouse_tables)
    from catalog.models import Table

    from .warehouse_sync import create_integration

    warehouse = create_integration(server, warehouse_db, "load warehouse")
    names, token = accounts(args.clients)
    table_ids = list(
        Table.objects.filter(removed=False).order_by("?").values_list("id", flat=True)[:2000]
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": server.url(dbname),
        "CELERY_BROKER_URL": args.broker_url,
        "LOG_LEVEL": "WARNING",
    }
    logs = Path(f"/tmp/{dbname}")
    logs.mkdir(exist_ok=True)
    web, worker = start_servers(env, port, args.web_workers, logs)
    stop = threading.Event()
    try:
        wait_up(f"{base}/login/")
        print(f"logging {args.clients} readers in ...", flush=True)
        sessions = [logged_in(base, name) for name in names]
        syncs = SyncLoop(warehouse, stop)
        syncs.start()
        time.sleep(1)  # the first sync under way
        print(f"{args.clients} clients for {args.seconds:.0f} s ...", flush=True)
        results: dict[str, Kind] = defaultdict(Kind)
        lock = threading.Lock()
        until = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=reader,
                args=(base, s, token, table_ids, until, results, lock, n),
            )
            for n, s in enumerate(sessions)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        stop.set()
        syncs.join(timeout=60)
    finally:
        stop.set()
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    report(args, results, elapsed, syncs.finished, logs)
    return 0


def report(args, results: dict[str, Kind], elapsed: float, syncs, logs: Path) -> None:
    everything = Kind(
        [t for k in results.values() for t in k.times_ms], sum(k.errors for k in results.values())
    )
    kinds = {**results, "overall": everything}
    names = list(kinds)
    rows = [
        ("requests", [f"{len(k.times_ms):,}" for k in kinds.values()]),
        ("p50, ms", [f"{percentile(k.times_ms, 50):,.0f}" for k in kinds.values()]),
        ("p95, ms", [f"{percentile(k.times_ms, 95):,.0f}" for k in kinds.values()]),
        ("max, ms", [f"{max(k.times_ms, default=0):,.0f}" for k in kinds.values()]),
        (
            "error rate",
            [f"{k.errors / len(k.times_ms):.2%}" if k.times_ms else "-" for k in kinds.values()],
        ),
    ]
    print(
        f"\n{args.clients} clients for {elapsed:.1f} s against {args.tables:,} tables "
        f"({args.web_workers} gunicorn workers, {os.cpu_count()} CPUs): "
        f"{len(everything.times_ms) / elapsed:,.1f} requests/s"
    )
    print_columns(names, rows)
    took = sorted(t for _status, t in syncs)
    failed = sum(status != "succeeded" for status, _t in syncs)
    print(
        f"Syncs of the {args.warehouse_tables}-table warehouse during the load: {len(syncs)} "
        f"finished, {failed} failed; each took {percentile(took, 50):.1f} s (median), "
        f"{max(took, default=0):.1f} s at most"
    )
    print(f"Server logs: {logs}")
    if args.json:
        figures = {
            "arguments": {k: str(v) for k, v in vars(args).items()},
            "seconds": elapsed,
            "requests_per_s": len(everything.times_ms) / elapsed,
            "kinds": {
                name: {
                    "requests": len(k.times_ms),
                    "p50_ms": percentile(k.times_ms, 50),
                    "p95_ms": percentile(k.times_ms, 95),
                    "max_ms": max(k.times_ms, default=0),
                    "errors": k.errors,
                }
                for name, k in kinds.items()
            },
            "syncs": syncs,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"Figures written to {args.json}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = Server(args.pg_host, args.pg_port, args.pg_user)
    suffix = uuid.uuid4().hex[:10]
    dbname, warehouse_db = f"bench_load_{suffix}", f"bench_load_wh_{suffix}"
    server.create_database(dbname)
    try:
        return run_load(args, server, dbname, warehouse_db)
    finally:
        catalog_search.cleanup(server, args.keep, dbname)
        if not args.keep:
            server.drop_database(warehouse_db)


if __name__ == "__main__":
    run_main(main)
