"""A dbt value longer than the catalog keeps is named, not a crash of the whole sync: an
identity (a name, a unique_id, where the relation is) that does not fit leaves its object
out, any other text is cut; the rest of the project is stored. On the real jaffle_shop
artifacts, derived in memory."""

from __future__ import annotations

import pytest

from catalog.models import DbtNode, DbtTest
from catalog.services import dbt_apply
from integrations.models import Integration, SyncRun
from tests.support.dbt_fixtures import artifact, one_run

pytestmark = pytest.mark.django_db

ORDERS = "model.jaffle_shop.orders"
CUSTOMERS = "model.jaffle_shop.customers"


@pytest.fixture
def dbt() -> Integration:
    return Integration.objects.create(
        connector="dbt_cloud",
        name="dbt",
        config={"account_id": 1, "access_url": "https://ab123.us1.dbt.com", "token": "t"},
    )


def test_a_name_too_long_leaves_its_node_out_and_a_long_owner_is_cut(dbt):
    manifest = artifact("manifest.json")
    manifest["nodes"][ORDERS]["name"] = "o" * 300
    manifest["nodes"][CUSTOMERS]["config"]["meta"] = {"owner": "team-" + "x" * 400}
    manifest["nodes"][CUSTOMERS]["meta"] = {"owner": "team-" + "x" * 400}
    said: list[str] = []
    counts = dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(manifest=manifest),
        warn=said.append,
    )
    assert not DbtNode.objects.filter(unique_id=ORDERS).exists()
    assert f"dbt's name of {ORDERS} is 300 characters" in "\n".join(said)
    customers = DbtNode.objects.get(unique_id=CUSTOMERS)
    assert len(customers.owner) == 255 and customers.owner.startswith("team-xxx")
    assert f"dbt's owner of {CUSTOMERS} is 405 characters" in "\n".join(said)
    # Everything else is stored as dbt wrote it.
    assert (
        counts["node"]["created"]
        == len(
            [
                n
                for n in manifest["nodes"].values()
                if n["resource_type"] in ("model", "seed", "snapshot")
            ]
        )
        + len(manifest["sources"])
        - 1
    )
    assert DbtTest.objects.count() > 30


def test_a_unique_id_too_long_for_any_column_leaves_its_test_out_and_nothing_fails(dbt):
    manifest, results = artifact("manifest.json"), artifact("run_results.json")
    old = next(uid for uid in manifest["nodes"] if uid.startswith("test."))
    new = "test.jaffle_shop." + "t" * 700
    manifest["nodes"][new] = {**manifest["nodes"].pop(old), "unique_id": new}
    for r in results["results"]:
        if r["unique_id"] == old:
            r["unique_id"] = new
    said: list[str] = []
    dbt_apply(
        integration=dbt,
        run=SyncRun.objects.create(integration=dbt, status="succeeded"),
        records=one_run(manifest=manifest, run_results=results),
        warn=said.append,
    )
    assert not DbtTest.objects.filter(unique_id__startswith="test.jaffle_shop.ttt").exists()
    assert any("dbt's unique_id of test.jaffle_shop.ttt" in w and "not stored" in w for w in said)
    assert DbtNode.objects.filter(unique_id=ORDERS).exists()
