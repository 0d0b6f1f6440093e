import pytest

from integrations.connectors import (
    UnknownConnector,
    all_entries,
    connector_choices,
    get_connector,
    registry_entry,
)
from tests.support.connectors import registered


def test_registry_lists_postgres_and_redshift_as_available_warehouses():
    entries = {e.key: e for e in all_entries()}
    assert {"postgres", "redshift"} <= set(entries)
    for key in ("postgres", "redshift"):
        assert entries[key].available, entries[key].unavailable_reason
        assert entries[key].connector.is_warehouse
    assert ("postgres", "PostgreSQL") in connector_choices()


def test_connector_whose_driver_is_missing_is_unavailable_with_the_reason():
    with registered("nodriver", "tests.support.missing_driver_connector"):
        entry = registry_entry("nodriver")
        assert not entry.available
        assert "pip install no-such-driver" in entry.unavailable_reason
        assert entry.connector.label == "No driver"  # still listed, with its label


def test_connector_module_that_fails_to_import_is_unavailable_not_a_crash():
    with registered("broken", "tests.support.no_such_module"):
        entry = registry_entry("broken")
        assert not entry.available and entry.connector is None
        assert "could not be imported" in entry.unavailable_reason
        assert "broken" in [e.key for e in all_entries()]


def test_unknown_connector_key_raises():
    with pytest.raises(UnknownConnector):
        get_connector("oracle")


def test_a_missing_parent_package_of_a_dotted_driver_marks_it_unavailable():
    from integrations.connectors import _installed

    assert _installed("json.decoder")
    assert not _installed("no_such_parent_pkg.cloud.bigquery")
