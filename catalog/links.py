"""Which URLs the catalog's pages may turn into links.

Manifests, the dbt Cloud API, warehouses and people all hand us URLs; a `javascript:` or
`data:` one in an `href` runs on the catalog's origin when clicked. Only absolute http(s)
addresses become links to other sites, and only plain paths become links within this one.
The check reads the URL the way a browser does (WHATWG URL): leading and trailing C0
controls and spaces are dropped and tabs and newlines anywhere are ignored, so
` javascript:` or `java\tscript:` is seen as the `javascript:` it is.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")


def _as_browser_reads(value: object) -> str:
    text = value if isinstance(value, str) else ""
    return _TAB_OR_NEWLINE.sub("", text.strip(_C0_OR_SPACE))


def web_url(value: object) -> str | None:
    """The URL cleaned as a browser would read it, if it is an absolute http(s) address with
    a host; else None (any other scheme, a relative or protocol-relative URL, no host)."""
    url = _as_browser_reads(value)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    # `https:host` and `https:\\host` (hosts to a browser) have no host here: refused too.
    if parts.scheme.lower() not in WEB_SCHEMES or not host:
        return None
    return url


def site_path(value: object) -> str | None:
    """A path on this site (`/catalog/…`), never `//host` or `/\\host`, which browsers read
    as another host; else None."""
    url = _as_browser_reads(value)
    if not url.startswith("/") or url[1:2] in ("/", "\\"):
        return None
    return url
