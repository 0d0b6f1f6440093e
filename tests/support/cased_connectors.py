"""Warehouse connectors for matching tests that fold identifiers like Snowflake (upper) or
keep them like BigQuery (sensitive), registered under test keys."""

from dataclasses import replace

from integrations.connectors.postgres import CONNECTOR as POSTGRES

UPPER = replace(POSTGRES, key="upper_wh", label="Upper-case warehouse", identifier_case="upper")
SENSITIVE = replace(
    POSTGRES, key="sensitive_wh", label="Case-keeping warehouse", identifier_case="sensitive"
)
