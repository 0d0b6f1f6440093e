"""The dbt Cloud client's limits, against the stand-in over real HTTP: an artifact is cut off
at its size limit once decompressed (a gzip bomb costs the limit, not its inflated size), and
each phase of a download has its own timeout, so a stalled download is abandoned and retried
quickly instead of waited out."""

from __future__ import annotations

import io
import json
import time
import zlib

import pytest

from integrations.connectors.dbt_cloud_api import ArtifactTooLarge, DbtCloudClient

ACCOUNT, PROJECT, PROD, NIGHTLY, RUN = 7, 70, 700, 7000, 9001
MANIFEST = rf"/runs/{RUN}/artifacts/manifest.json$"
MIB = 2**20


@pytest.fixture
def world(dbt_cloud):
    dbt_cloud.add_account(ACCOUNT, "Acme")
    dbt_cloud.add_project(PROJECT, "jaffle_shop")
    dbt_cloud.add_environment(PROD, PROJECT, "Production", deployment_type="production")
    dbt_cloud.add_job(NIGHTLY, PROJECT, PROD, "Nightly")
    dbt_cloud.add_jaffle_shop_run(RUN, NIGHTLY)
    return dbt_cloud


def client(world, **limits) -> DbtCloudClient:
    options = {"max_attempts": 3, "backoff": 0.01, "sleep": lambda _s: None, **limits}
    return DbtCloudClient(
        access_url=world.url, token=world.state.token, account_id=ACCOUNT, **options
    )


def gzip_of_zeros(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed a megabyte at a time (never held inflated)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    return b"".join(packer.compress(block) for _ in range(size // MIB)) + packer.flush()


def test_a_gzip_bomb_stops_at_the_limit_with_a_message_naming_the_setting(world):
    bomb = gzip_of_zeros(512 * MIB)
    assert len(bomb) < MIB  # half a gigabyte inflated, under a megabyte on the wire
    world.fail_next(MANIFEST, 200, headers={"Content-Encoding": "gzip"}, body=bomb)
    dest = io.BytesIO()
    started = time.monotonic()
    with pytest.raises(ArtifactTooLarge) as refused:
        client(world, max_artifact_bytes=8 * MIB).artifact_to_file(RUN, "manifest.json", dest)
    assert time.monotonic() - started < 5
    assert len(dest.getvalue()) <= 8 * MIB
    message = str(refused.value)
    assert "manifest.json of run 9001" in message and "8.0 MiB" in message
    assert "DBT_CLOUD_ARTIFACT_MAX_BYTES" in message
    # Not retried: the same answer would come again.
    assert len(world.requests_to(MANIFEST)) == 1


def test_an_artifact_read_whole_is_bounded_too(world):
    with pytest.raises(ArtifactTooLarge):
        client(world, max_artifact_bytes=1000).artifact(RUN, "run_results.json")
    # Within the limit it is the bytes dbt Cloud sent.
    whole = client(world).artifact(RUN, "run_results.json")
    assert json.loads(whole)["metadata"]["dbt_schema_version"].endswith("run-results/v6.json")


def test_a_download_that_stalls_midway_is_abandoned_and_retried_quickly(world):
    world.stall_next(MANIFEST, keep_bytes=1000, seconds=30)
    dest = io.BytesIO()
    started = time.monotonic()
    written = client(world, idle_timeout=0.5).artifact_to_file(RUN, "manifest.json", dest)
    assert time.monotonic() - started < 10  # not the 30 s stall
    assert len(world.requests_to(MANIFEST)) == 2
    assert written == len(dest.getvalue()) and json.loads(dest.getvalue())["nodes"]


def test_an_answer_slow_to_start_waits_for_its_first_byte_then_is_retried(world):
    world.delay_next(MANIFEST, seconds=30)
    started = time.monotonic()
    dest = io.BytesIO()
    client(world, timeout=0.5).artifact_to_file(RUN, "manifest.json", dest)
    assert time.monotonic() - started < 10
    assert len(world.requests_to(MANIFEST)) == 2 and json.loads(dest.getvalue())["nodes"]


def test_a_download_past_its_deadline_is_abandoned_even_when_bytes_keep_coming(world):
    # The pause is under the idle timeout, but the download outlasts its deadline.
    world.stall_next(MANIFEST, keep_bytes=1000, seconds=1.5)
    dest = io.BytesIO()
    started = time.monotonic()
    client(world, idle_timeout=5, download_deadline=1).artifact_to_file(RUN, "manifest.json", dest)
    assert time.monotonic() - started < 10
    assert len(world.requests_to(MANIFEST)) == 2 and json.loads(dest.getvalue())["nodes"]


def test_every_attempt_stalled_ends_in_a_message_that_says_what_to_check(world):
    world.stall_next(MANIFEST, keep_bytes=1000, seconds=30, times=3)
    with pytest.raises(Exception) as failed:
        client(world, idle_timeout=0.3).artifact_to_file(RUN, "manifest.json", io.BytesIO())
    assert "did not answer" in str(failed.value) and "after 3 attempts" in str(failed.value)
