"""Writes to the catalog: what warehouses extract, and what dbt adds."""

from .dbt import dbt_apply
from .warehouse import catalog_apply

__all__ = ["catalog_apply", "dbt_apply"]
