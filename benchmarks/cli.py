"""What every benchmark's `__main__` shares: its failure type and its exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

import psycopg


class BenchmarkFailed(Exception):
    """A sync failed or counted what it should not have."""


def run_main(main: Callable[[], int]) -> None:
    """Exit 0 on success, 1 when the benchmark found a problem, 2 without a server."""
    try:
        sys.exit(main())
    except BenchmarkFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    except psycopg.OperationalError as exc:
        print(
            f"No PostgreSQL server to work with (see --pg-host/--pg-port/--pg-user): {exc}",
            file=sys.stderr,
        )
        sys.exit(2)
