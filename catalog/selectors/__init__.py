"""Reads of the catalog."""

from .export import EXPORT_VERSION, catalog_export_data

__all__ = ["EXPORT_VERSION", "catalog_export_data"]
