"""Reads of the catalog."""

from .export import EXPORT_VERSION, catalog_export_data
from .tables import table_browse, table_columns, table_detail

__all__ = ["EXPORT_VERSION", "catalog_export_data", "table_browse", "table_columns", "table_detail"]
