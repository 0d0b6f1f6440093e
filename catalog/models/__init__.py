"""The catalog: the warehouse's objects, and what dbt adds to them."""

from .dbt import (
    DbtExposure,
    DbtGroup,
    DbtJob,
    DbtJobFact,
    DbtNode,
    DbtRun,
    DbtTerm,
    DbtTest,
    DbtTestResult,
    TableLineage,
)
from .tokens import ApiToken
from .warehouse import (
    CatalogObject,
    Column,
    Database,
    DescriptionSource,
    EditRecord,
    Schema,
    Table,
)

__all__ = [
    "ApiToken",
    "CatalogObject",
    "Column",
    "Database",
    "DbtExposure",
    "DbtGroup",
    "DbtJob",
    "DbtJobFact",
    "DbtNode",
    "DbtRun",
    "DbtTerm",
    "DbtTest",
    "DbtTestResult",
    "DescriptionSource",
    "EditRecord",
    "Schema",
    "Table",
    "TableLineage",
]
