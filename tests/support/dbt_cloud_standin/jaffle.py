"""Run steps carrying the real jaffle_shop artifacts of tests/fixtures/jaffle_shop/."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jaffle_shop"
CLONE_STEP = "Clone Git Repository"
FRESHNESS_COMMAND = "dbt source freshness"
DOCS_COMMAND = "dbt docs generate"
COMPILED_BY_DOCS = {"model", "seed", "snapshot", "test", "analysis"}

Step = tuple[str, dict[str, bytes]]


def step_name(command: str) -> str:
    return f"Invoke dbt with `{command}`"


@functools.cache
def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@functools.cache
def docs_run_results() -> bytes:
    """run_results.json as `dbt docs generate` writes it.

    The fixtures hold only the `dbt build` run_results, so this one is derived from it:
    every node docs generate compiles becomes a compile-only `success` entry (no
    execute timing, no adapter response, no failures) and the exposure is dropped; the
    invocation is the docs one of manifest.json and catalog.json. The fixture files
    themselves are never changed.
    """
    build = json.loads(fixture("run_results.json"))
    docs_meta = json.loads(fixture("catalog.json"))["metadata"]
    results = [
        {
            **result,
            "status": "success",
            "timing": [t for t in result["timing"] if t["name"] == "compile"],
            "execution_time": 0.01,
            "adapter_response": {},
            "message": None,
            "failures": None,
        }
        for result in build["results"]
        if result["unique_id"].split(".")[0] in COMPILED_BY_DOCS
    ]
    document = {
        **build,
        "metadata": {
            **build["metadata"],
            "invocation_id": docs_meta["invocation_id"],
            "invocation_started_at": docs_meta["invocation_started_at"],
            "generated_at": docs_meta["generated_at"],
        },
        "results": results,
        "elapsed_time": 1.2,
        "args": {**build["args"], "which": "generate", "invocation_command": DOCS_COMMAND},
    }
    return json.dumps(document).encode()


def jaffle_shop_steps(
    *,
    freshness: bool = True,
    commands: Iterable[str] = ("dbt build",),
    docs: bool = True,
    system_steps: Iterable[str] = (CLONE_STEP,),
) -> list[Step]:
    """Steps in dbt Cloud's order: system steps, source freshness (the job's checkbox
    puts it first), the job's commands, then docs generate last (reference §8.4, §8.5).

    With the defaults: 1 clone, 2 freshness → sources.json, 3 build → manifest.json +
    run_results.json, 4 docs → manifest.json + run_results.json (compile-only) +
    catalog.json. The build step's manifest is the fixture's, which docs generate wrote
    from the same project.
    """
    steps: list[Step] = [(name, {}) for name in system_steps]
    if freshness:
        steps.append((step_name(FRESHNESS_COMMAND), {"sources.json": fixture("sources.json")}))
    for command in commands:
        steps.append(
            (
                step_name(command),
                {
                    "manifest.json": fixture("manifest.json"),
                    "run_results.json": fixture("run_results.json"),
                },
            )
        )
    if docs:
        steps.append(
            (
                step_name(DOCS_COMMAND),
                {
                    "manifest.json": fixture("manifest.json"),
                    "run_results.json": docs_run_results(),
                    "catalog.json": fixture("catalog.json"),
                },
            )
        )
    return steps
