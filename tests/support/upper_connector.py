from tests.support.cased_connectors import UPPER as CONNECTOR  # noqa: F401
