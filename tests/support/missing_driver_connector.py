"""A connector module for tests whose driver library is not installed."""

from dataclasses import replace

from integrations.connectors.postgres import CONNECTOR as POSTGRES

CONNECTOR = replace(
    POSTGRES,
    key="nodriver",
    label="No driver",
    driver="no_such_driver_lib",
    driver_package="no-such-driver",
)
