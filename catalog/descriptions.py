"""How long a description may be, and when two descriptions are the same text.

The catalog keeps at most `settings.CATALOG_DESCRIPTION_MAX_LENGTH` characters of a
description: a person's longer one is refused with a message, a warehouse comment or dbt
description longer is kept cut, with a warning on the sync run. (The full-text index reads a
fixed prefix of its own, `selectors.search.INDEXED_PREFIX`, whatever this limit is.)

Two texts are the same when they differ only in line endings (browsers send a textarea's with
CRLF), in the Unicode form of their characters, or in the blank space around them (dbt's
`description: |` ends in a newline, the edit form strips it): submitting a form unchanged
then changes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError


def description_limit() -> int:
    return settings.CATALOG_DESCRIPTION_MAX_LENGTH


def too_long_message(text: str) -> str:
    """What a person is told about a description past the limit; "" when it is not."""
    limit = description_limit()
    if len(text) <= limit:
        return ""
    return f"A description is {limit:,} characters at most; this one is {len(text):,}."


def validate_description_length(value: str) -> None:
    """A model field validator, so that Django admin's forms refuse it too."""
    if message := too_long_message(value):
        raise ValidationError(message, code="max_length")


def normalised_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text).strip()


class DescriptionCutter:
    """Cuts descriptions from a sync at the limit, warning once per object it cut."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.limit = description_limit()
        self.warned: set[str] = set()

    def __call__(self, text: str, *, what: str) -> str:
        """`what` names the text: "comment on analytics.orders", "dbt description of …"."""
        if len(text) <= self.limit:
            return text
        if what not in self.warned:
            self.warned.add(what)
            self.warn(
                f"The {what} is {len(text):,} characters; "
                f"the catalog keeps the first {self.limit:,}."
            )
        return text[: self.limit]
