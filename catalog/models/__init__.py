"""The catalog: the warehouse's objects, and what dbt adds to them."""

from .dbt import (
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    TableLineage,
)
from .warehouse import CatalogObject, Column, Database, DescriptionSource, Schema, Table

__all__ = [
    "CatalogObject",
    "Column",
    "Database",
    "DbtExposure",
    "DbtGroup",
    "DbtJob",
    "DbtNode",
    "DbtRun",
    "DbtTerm",
    "DbtTest",
    "DbtTestResult",
    "DescriptionSource",
    "Schema",
    "Table",
    "TableLineage",
]
