"""Keeping secrets out of messages and logs."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "********"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret value replaced by a mask."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
