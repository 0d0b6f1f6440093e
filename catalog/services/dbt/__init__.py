"""Applying a dbt Cloud sync to the catalog (apply.py), by parts: what each project
defines (definitions.py), what each run produced (job_facts.py), the tests' history
(history.py), and what the catalog derives from them (derive.py)."""

from .apply import dbt_apply

__all__ = ["dbt_apply"]
