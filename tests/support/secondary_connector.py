"""A connector module for tests: see tests/support/connectors.py."""

from tests.support.connectors import SECONDARY as CONNECTOR  # noqa: F401
