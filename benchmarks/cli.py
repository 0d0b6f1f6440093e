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


def print_columns(names: list[str], rows: list[tuple[str, list[str]]]) -> None:
    """A table of figures: one row per label, one right-aligned column per name."""
    label_width = max(len(label) for label, _ in rows)
    widths = [
        max(len(name), *(len(values[i]) for _, values in rows)) for i, name in enumerate(names)
    ]
    print(
        " " * label_width + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    )
    for label, values in rows:
        print(
            label.ljust(label_width)
            + "  "
            + "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        )


def add_server_arguments(parser) -> None:
    """The PostgreSQL server a benchmark creates its databases on."""
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
