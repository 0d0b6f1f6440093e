"""Which new runs the dbt Cloud walk reads with their manifest: per project, only the run
that finished last, and only when it is newer than the manifest the catalog already has."""

from __future__ import annotations

from types import SimpleNamespace

from integrations.connectors.dbt_cloud_runs import manifests_to_read


def job(job_id: int, project: int = 1) -> dict:
    return {"id": job_id, "project_id": project}


def runs(*pairs: tuple[int, str]) -> SimpleNamespace:
    """A job's runs, newest first, as (id, finished_at)."""
    return SimpleNamespace(runs=[{"id": i, "finished_at": at} for i, at in pairs])


NIGHTLY_AT, HOURLY_AT = "2026-12-01 05:10:00+00:00", "2026-12-01 05:43:00+00:00"


def test_of_two_new_runs_of_one_project_only_the_later_is_read_whole():
    found = {1: runs((101, NIGHTLY_AT)), 2: runs((201, HOURLY_AT))}
    whole, at = manifests_to_read([job(1), job(2)], found, {}, {})
    assert whole == {201}
    assert at == {"1": HOURLY_AT}


def test_each_project_has_its_own_newest_run():
    found = {1: runs((101, NIGHTLY_AT)), 2: runs((201, HOURLY_AT))}
    whole, at = manifests_to_read([job(1, project=1), job(2, project=2)], found, {}, {})
    assert whole == {101, 201}
    assert at == {"1": NIGHTLY_AT, "2": HOURLY_AT}


def test_a_new_run_older_than_the_manifest_read_before_is_read_without_its_own():
    found = {1: runs((101, NIGHTLY_AT)), 2: runs((201, HOURLY_AT))}
    ingested = {"2": 201}  # the hourly run was read by the last sync
    whole, at = manifests_to_read(
        [job(1), job(2)], found, ingested, {"definitions_at": {"1": HOURLY_AT}}
    )
    assert whole == set()
    assert at == {"1": HOURLY_AT}


def test_runs_read_before_are_not_read_again():
    found = {1: runs((101, NIGHTLY_AT))}
    assert manifests_to_read([job(1)], found, {"1": 101}, {}) == (set(), {})


def test_a_project_no_live_job_reads_forgets_its_manifest_so_it_is_defined_again_later():
    state = {"definitions_at": {"1": HOURLY_AT, "9": HOURLY_AT}}
    found = {1: runs((101, NIGHTLY_AT))}
    whole, at = manifests_to_read([job(1)], found, {}, state)
    assert "9" not in at
    # Back later with an older run than it once had: read whole, as a first sync would.
    whole, at = manifests_to_read([job(7, project=9)], {7: runs((701, NIGHTLY_AT))}, {}, at)
    assert whole == {701}
