"""A realistic dbt Cloud account for the stand-in, every artifact derived in memory from the
real jaffle_shop ones (tests/fixtures/jaffle_shop/, never changed):

- "Nightly build" (scheduled 02:00): source freshness (the job's checkbox), `dbt build`,
  docs generate. Its run fails: `not_null_orders_customer_id` fails 99 rows (derived; the
  fixture's own failing test, on the snapshot, keeps failing 99 too), so `dbt build` skips
  `dim_dates`, the one model downstream of `orders` (no result timing, not compiled by the
  build step). Its `sources.json` says pass / warn / error.
- "Hourly orders tests" (scheduled every hour): `dbt test --select orders`, no docs, no
  freshness; its newest run finishes half an hour after the nightly one. Its run_results are
  the fixture's results of the 10 tests on `orders`, all passing (the nightly failure
  fixed); its manifest is the whole project's, as dbt writes it on every command, with a
  test added since the nightly run (`not_null_customers_first_name`, not selected: never
  run), and compiled code only on the 10 tests it compiled.
- "Airflow: source freshness" (no trigger; a run kicked off by the API four days ago, before
  the nightly): `dbt source freshness` only, every source passing.
- "Backfill (manual)": no trigger, no run; and 100 retired jobs (no trigger; ten of them
  last ran 60 days ago, without artifacts).

Job ids: the hourly job was created first and is listed first, so an apply that reads jobs
in the API's order meets the newer hourly run before the nightly one.

All times are anchored three days before today (UTC midnight), so that "a run within the
last 30 days" stays true whenever the tests run; each run's artifacts (run_results timings,
sources.json, catalog.json, manifest metadata) are shifted to its own time.

    account = JaffleAccount(standin).build()
    account.add_later_nightly()   # a nightly run newer than the hourly one, all fixed

For the matching scenarios: `manifest_in_database(name)` and `one_build_run`, beside
tests/support/dbt_variants.py (disabled twins, versioned models).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from tests.support.dbt_cloud_standin.jaffle import (
    CLONE_STEP,
    DOCS_COMMAND,
    FRESHNESS_COMMAND,
    docs_run_results,
    step_name,
)
from tests.support.dbt_fixtures import artifact

ACCOUNT, PROJECT, PROD = 70403103922125, 70000000000310, 70000000000555
HOURLY, NIGHTLY, AIRFLOW, IDLE = 70000000004020, 70000000004021, 70000000004030, 70000000004031
RETIRED = tuple(range(70000000005000, 70000000005100))
AIRFLOW_RUN, NIGHTLY_RUN, HOURLY_RUN, LATER_NIGHTLY_RUN = 8001, 8101, 8102, 8201

HOURLY_COMMAND = "dbt test --select orders"
ORDERS = "model.jaffle_shop.orders"
DIM_DATES = "model.jaffle_shop.dim_dates"
# Fails 99 rows in the nightly run (derived), passes in the hourly one.
FLIPPED = "test.jaffle_shop.not_null_orders_customer_id.c5f02694af"
# The fixture's own failing and warning tests: not on `orders`, so the hourly run skips them.
SNAPSHOT_FAILING = "test.jaffle_shop.not_null_raw_orders_snapshot_dbt_valid_to.ec565168da"
WARNING = "test.jaffle_shop.source_unique_jaffle_raw_raw_payments_order_id.0c4958f21f"
# Added to the project after the nightly run: in the hourly manifest, which did not select it.
NEW_TEST = "test.jaffle_shop.not_null_customers_first_name.5a1d6e0b7c"
NEW_TEST_TEMPLATE = "test.jaffle_shop.not_null_customers_customer_id.5c9bf9911d"
BUILT = ("model", "seed", "snapshot")

FIXTURE_DAY = datetime(2026, 11, 27, tzinfo=UTC)  # the fixtures' invocations ran 02:31-02:32
NIGHTLY_RUN_SPAN = (
    timedelta(hours=2, minutes=31, seconds=30),
    timedelta(hours=2, minutes=32, seconds=30),
)
HOURLY_OFFSET = timedelta(minutes=33)  # the hourly run's artifacts: the fixture's, 33 min later
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")


def anchor_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


# --- Shifting the fixtures' times -----------------------------------------------------------


def shift_times(document: Any, delta: timedelta) -> Any:
    """A copy with every ISO timestamp string moved by `delta`, in its own format."""
    if isinstance(document, dict):
        return {k: shift_times(v, delta) for k, v in document.items()}
    if isinstance(document, list):
        return [shift_times(v, delta) for v in document]
    if isinstance(document, str) and TIMESTAMP.match(document):
        zulu = document.endswith("Z")
        try:
            moment = datetime.fromisoformat(document.replace("Z", "+00:00"))
        except ValueError:
            return document
        shifted = (moment + delta).isoformat(sep=document[10])
        return shifted.replace("+00:00", "Z") if zulu else shifted
    return document


def with_metadata_at(manifest: dict, delta: timedelta) -> dict:
    """The manifest's nodes as they are, its metadata's times moved (node `created_at`s are
    epoch floats of parse time; they stay)."""
    return {**manifest, "metadata": shift_times(manifest["metadata"], delta)}


def execute_completed_at(result: dict) -> datetime | None:
    for timing in result.get("timing") or []:
        if timing["name"] == "execute":
            return datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
    return None


# --- The nightly run ------------------------------------------------------------------------


def failed_result(result: dict, failures: int) -> dict:
    return {
        **result,
        "status": "fail",
        "failures": failures,
        "message": f"Got {failures} results, configured to fail if != 0",
        "adapter_response": {"_message": "SELECT 1", "code": "SELECT", "rows_affected": 1},
    }


def passed_result(result: dict) -> dict:
    return {**result, "status": "pass", "failures": 0, "message": None}


def skipped_result(result: dict) -> dict:
    """What dbt build writes for a node downstream of a failed test (RunStatus.Skipped)."""
    return {
        **result,
        "status": "skipped",
        "timing": [],
        "execution_time": 0,
        "adapter_response": {},
        "message": None,
        "failures": None,
        "compiled": None,
        "compiled_code": None,
    }


def nightly_run_results(delta: timedelta) -> dict:
    document = artifact("run_results.json")
    results = []
    for result in document["results"]:
        if result["unique_id"] == FLIPPED:
            result = failed_result(result, 99)
        elif result["unique_id"] == DIM_DATES:
            result = skipped_result(result)
        results.append(result)
    return shift_times({**document, "results": results}, delta)


def strip_compiled(manifest: dict, keep: set[str]) -> dict:
    """dbt writes the whole project's manifest on every command, compiled code only on the
    nodes that command compiled."""
    nodes = {}
    for uid, node in manifest["nodes"].items():
        if uid not in keep and ("compiled_code" in node or "compiled" in node):
            node = {**node, "compiled": False, "compiled_code": None}
            node.pop("compiled_path", None)
            node["extra_ctes_injected"] = False
        nodes[uid] = node
    return {**manifest, "nodes": nodes}


def nightly_build_manifest(delta: timedelta) -> dict:
    manifest = artifact("manifest.json")
    return with_metadata_at(strip_compiled(manifest, set(manifest["nodes"]) - {DIM_DATES}), delta)


def nightly_steps(delta: timedelta) -> list:
    return [
        (CLONE_STEP, {}, 10),
        (
            step_name(FRESHNESS_COMMAND),
            {"sources.json": shift_times(artifact("sources.json"), delta)},
            10,
        ),
        (
            step_name("dbt build"),
            {
                "manifest.json": nightly_build_manifest(delta),
                "run_results.json": nightly_run_results(delta),
            },
            20,  # a test failed
        ),
        (
            step_name(DOCS_COMMAND),
            {
                "manifest.json": with_metadata_at(artifact("manifest.json"), delta),
                "run_results.json": shift_times(json.loads(docs_run_results()), delta),
                "catalog.json": shift_times(artifact("catalog.json"), delta),
            },
            10,
        ),
    ]


# --- The hourly run -------------------------------------------------------------------------


@cache
def orders_tests() -> frozenset[str]:
    """The tests `dbt test --select orders` runs: those depending on the orders model."""
    manifest = artifact("manifest.json")
    return frozenset(
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and ORDERS in node["depends_on"]["nodes"]
    )


def new_test_node(*, compiled: bool) -> dict:
    """not_null on customers.first_name, written like the fixture's not_null on customer_id."""
    template = artifact("manifest.json")["nodes"][NEW_TEST_TEMPLATE]
    node = json.loads(json.dumps(template).replace("customer_id", "first_name"))
    node.update(
        unique_id=NEW_TEST,
        name="not_null_customers_first_name",
        alias="not_null_customers_first_name",
        fqn=["jaffle_shop", "not_null_customers_first_name"],
        path="not_null_customers_first_name.sql",
    )
    node["depends_on"] = template["depends_on"]
    if not compiled:
        node.update(compiled=False, compiled_code=None, extra_ctes_injected=False)
        node.pop("compiled_path", None)
    return node


def with_new_test(manifest: dict, *, compiled: bool) -> dict:
    nodes = {**manifest["nodes"], NEW_TEST: new_test_node(compiled=compiled)}
    child_map = {**manifest["child_map"]}
    child_map["model.jaffle_shop.customers"] = [
        *child_map["model.jaffle_shop.customers"],
        NEW_TEST,
    ]
    child_map[NEW_TEST] = []
    parent_map = {**manifest["parent_map"], NEW_TEST: ["model.jaffle_shop.customers"]}
    return {**manifest, "nodes": nodes, "child_map": child_map, "parent_map": parent_map}


def hourly_manifest(delta: timedelta) -> dict:
    manifest = with_new_test(artifact("manifest.json"), compiled=False)
    return with_metadata_at(strip_compiled(manifest, set(orders_tests())), delta)


def hourly_run_results(delta: timedelta) -> dict:
    document = artifact("run_results.json")
    selected = orders_tests()
    results = [
        passed_result(r) if r["unique_id"] == FLIPPED else r
        for r in document["results"]
        if r["unique_id"] in selected
    ]
    args = {
        **document["args"],
        "which": "test",
        "invocation_command": HOURLY_COMMAND,
        "select": ["orders"],
    }
    return shift_times({**document, "results": results, "args": args, "elapsed_time": 2.4}, delta)


def hourly_steps(delta: timedelta) -> list:
    return [
        (CLONE_STEP, {}, 10),
        (
            step_name(HOURLY_COMMAND),
            {
                "manifest.json": hourly_manifest(delta),
                "run_results.json": hourly_run_results(delta),
            },
            10,
        ),
    ]


# --- The later nightly run: everything fixed, the new test run -------------------------------


def later_nightly_run_results(delta: timedelta) -> dict:
    document = artifact("run_results.json")
    results = [
        passed_result(r) if r["unique_id"] in (SNAPSHOT_FAILING, WARNING) else r
        for r in document["results"]
    ]
    template = next(r for r in results if r["unique_id"] == NEW_TEST_TEMPLATE)
    results.append(
        {
            **json.loads(json.dumps(template).replace("customer_id", "first_name")),
            "unique_id": NEW_TEST,
        }
    )
    return shift_times({**document, "results": results}, delta)


def later_sources(delta: timedelta) -> dict:
    """raw_payments loaded again: pass; raw_orders still stale (error)."""
    document = artifact("sources.json")
    for result in document["results"]:
        if result["unique_id"] == "source.jaffle_shop.jaffle_raw.raw_payments":
            result.update(status="pass", max_loaded_at=document["metadata"]["generated_at"])
    return shift_times(document, delta)


def later_nightly_steps(delta: timedelta) -> list:
    manifest = with_metadata_at(with_new_test(artifact("manifest.json"), compiled=True), delta)
    return [
        (CLONE_STEP, {}, 10),
        (step_name(FRESHNESS_COMMAND), {"sources.json": later_sources(delta)}, 10),
        (
            step_name("dbt build"),
            {"manifest.json": manifest, "run_results.json": later_nightly_run_results(delta)},
            10,
        ),
        (
            step_name(DOCS_COMMAND),
            {
                "manifest.json": manifest,
                "run_results.json": shift_times(json.loads(docs_run_results()), delta),
                "catalog.json": shift_times(artifact("catalog.json"), delta),
            },
            10,
        ),
    ]


# --- The Airflow-triggered freshness run -----------------------------------------------------


def airflow_steps(delta: timedelta) -> list:
    sources = artifact("sources.json")
    for result in sources["results"]:
        result["status"] = "pass"
    manifest = artifact("manifest.json")
    return [
        (CLONE_STEP, {}, 10),
        (
            step_name(FRESHNESS_COMMAND),
            {
                "manifest.json": with_metadata_at(strip_compiled(manifest, set()), delta),
                "sources.json": shift_times(sources, delta),
            },
            10,
        ),
    ]


# --- The account ----------------------------------------------------------------------------

NO_TRIGGER = {
    "github_webhook": False,
    "git_provider_webhook": False,
    "schedule": False,
    "on_merge": False,
    "custom_branch_only": False,
}


@dataclass
class RunTimes:
    started_at: datetime
    finished_at: datetime
    delta: timedelta  # the fixtures' times + delta = this run's


@dataclass
class JaffleAccount:
    """The account's world on a stand-in, and the times each run's facts carry."""

    standin: Any
    anchor: datetime = field(default_factory=anchor_day)
    runs: dict[int, RunTimes] = field(default_factory=dict)

    def times(self, day_offset: timedelta, extra: timedelta = timedelta(0)) -> RunTimes:
        """A run whose artifacts are the fixtures' moved to `anchor + day_offset (+ extra)`."""
        day = self.anchor + day_offset
        start, end = NIGHTLY_RUN_SPAN
        return RunTimes(
            started_at=day + start + extra,
            finished_at=day + end + extra,
            delta=(day - FIXTURE_DAY) + extra,
        )

    def build(self) -> JaffleAccount:
        s = self.standin
        s.add_account(ACCOUNT, "Jaffle Analytics")
        s.add_project(PROJECT, "jaffle_shop", ACCOUNT)
        s.add_environment(PROD, PROJECT, "Production", "deployment", "production")
        s.add_job(
            HOURLY,
            PROJECT,
            PROD,
            "Hourly orders tests",
            execute_steps=(HOURLY_COMMAND,),
            generate_docs=False,
            run_generate_sources=False,
            cron="0 * * * *",
        )
        s.add_job(NIGHTLY, PROJECT, PROD, "Nightly build", cron="0 2 * * *")
        s.add_job(
            AIRFLOW,
            PROJECT,
            PROD,
            "Airflow: source freshness",
            execute_steps=(FRESHNESS_COMMAND,),
            generate_docs=False,
            run_generate_sources=False,
            cron=None,
            triggers=NO_TRIGGER,
        )
        s.add_job(IDLE, PROJECT, PROD, "Backfill (manual)", cron=None, triggers=NO_TRIGGER)
        for n, job_id in enumerate(RETIRED):
            s.add_job(job_id, PROJECT, PROD, f"Retired job {n:03d}", cron=None, triggers=NO_TRIGGER)
            if n < 10:  # last ran two months ago, long before the window
                old = self.anchor - timedelta(days=60)
                s.add_run(
                    6000 + n,
                    job_id,
                    10,
                    started_at=old,
                    finished_at=old + timedelta(minutes=3),
                    steps=[(CLONE_STEP, {}), (step_name("dbt build"), {})],
                )
        self._add(
            AIRFLOW_RUN,
            AIRFLOW,
            10,
            self.times(-timedelta(days=1), timedelta(hours=4)),
            airflow_steps,
            trigger_cause="Kicked off from Airflow",
            cause_category="api",
        )
        self._add(NIGHTLY_RUN, NIGHTLY, 20, self.times(timedelta(0)), nightly_steps)
        self._add(HOURLY_RUN, HOURLY, 10, self.times(timedelta(0), HOURLY_OFFSET), hourly_steps)
        return self

    def add_later_nightly(self) -> int:
        """The next night's build: newer than the hourly run; every test passes, the new
        test runs, raw_payments is fresh again, dim_dates is built."""
        self._add(
            LATER_NIGHTLY_RUN, NIGHTLY, 10, self.times(timedelta(days=1)), later_nightly_steps
        )
        return LATER_NIGHTLY_RUN

    def _add(
        self, run_id: int, job_id: int, status: int, times: RunTimes, steps, **options
    ) -> None:
        self.runs[run_id] = times
        self.standin.add_run(
            run_id,
            job_id,
            status,
            started_at=times.started_at,
            finished_at=times.finished_at,
            steps=steps(times.delta),
            **options,
        )

    # -- what each run says, for the assertions -------------------------------------------

    def results(self, run_id: int) -> dict[str, dict]:
        """The run_results of the run's build/test step, by unique_id."""
        delta = self.runs[run_id].delta
        document = {
            NIGHTLY_RUN: nightly_run_results,
            HOURLY_RUN: hourly_run_results,
            LATER_NIGHTLY_RUN: later_nightly_run_results,
        }[run_id](delta)
        return {r["unique_id"]: r for r in document["results"]}

    def executed_at(self, run_id: int, unique_id: str) -> datetime | None:
        return execute_completed_at(self.results(run_id)[unique_id])

    def sources(self, run_id: int) -> dict[str, dict]:
        delta = self.runs[run_id].delta
        document = (
            later_sources(delta)
            if run_id == LATER_NIGHTLY_RUN
            else shift_times(artifact("sources.json"), delta)
        )
        return {r["unique_id"]: r for r in document["results"]}

    def finished_at(self, run_id: int) -> datetime:
        return self.runs[run_id].finished_at


# --- Variants for matching (separate scenarios) ----------------------------------------------


def built_nodes(manifest: dict) -> dict[str, dict]:
    return {u: n for u, n in manifest["nodes"].items() if n["resource_type"] in BUILT}


def manifest_in_database(name: str, manifest: dict | None = None) -> dict:
    """Every model, seed, snapshot and source in database `name` (dbt's `database`, and the
    relation names it renders), as when dbt's target names one warehouse exactly."""
    manifest = copy.deepcopy(manifest or artifact("manifest.json"))
    for section in ("nodes", "sources"):
        for node in manifest[section].values():
            if node.get("database") == "warehouse":
                node["database"] = name
                if node.get("relation_name"):
                    node["relation_name"] = node["relation_name"].replace(
                        '"warehouse".', f'"{name}".', 1
                    )
    return manifest


def one_build_run(
    standin: Any, run_id: int, job_id: int, manifest: dict, run_results: dict
) -> None:
    """A finished run of `dbt build` serving these artifacts (for the matching scenarios)."""
    standin.add_run(
        run_id,
        job_id,
        10,
        steps=[
            (CLONE_STEP, {}),
            (step_name("dbt build"), {"manifest.json": manifest, "run_results.json": run_results}),
        ],
    )
