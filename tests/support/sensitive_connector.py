from tests.support.cased_connectors import SENSITIVE as CONNECTOR  # noqa: F401
