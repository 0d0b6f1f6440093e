"""Writes to the catalog: what warehouses extract, and what dbt adds."""

from .dbt import dbt_apply
from .edits import catalog_object_edit
from .warehouse import catalog_apply

__all__ = ["catalog_apply", "catalog_object_edit", "dbt_apply"]
