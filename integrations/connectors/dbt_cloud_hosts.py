"""Which dbt Cloud access URLs the catalog sends a service token to.

A URL is read once, by the parser `requests` itself connects by (urllib3's `parse_url`), and
everything on which two URL parsers are known to disagree is refused rather than guessed at:
backslashes, userinfo and any `@`, whitespace and control characters, percent-escapes, a path,
query or fragment, IP-address hosts, ports other than 443. What is stored, checked against the
allowlist and connected to is the URL rebuilt from the parsed scheme and host, never the text
as pasted. The form checks a URL before it is stored and the client again before it sends the
token, so a URL stored some other way (an old database, a raw write) cannot leak the token.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata

from django.conf import settings
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .base import ConnectorError

# Multi-tenant hosts (reference §1): account-prefixed cells and the legacy shared hosts.
CELL_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.(us[1-3]|eu[1-4]|au[12]|jp1)\.dbt\.com$")
LEGACY_HOSTS = {"emea.dbt.com", "au.dbt.com"}
LOOPBACK_NAMES = {"localhost"}
HTTPS_PORT = 443
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# What a resolver reads as an IPv4 address though it is not dotted-quad: "2130706433",
# "0x7f000001", "0177.0.0.1", "127.1" (WHATWG's ends-in-a-number rule).
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")

# dbt's account URL migration: getdbt.com hosts stopped serving integrations on 1 November
# 2026 (reference §1.2). The form refuses them unless an administrator allows one
# (DBT_CLOUD_EXTRA_HOSTS); a stored one gets this message with its 401.
RETIRED_DOMAIN = "getdbt.com"
RETIRED_MESSAGE = (
    "{host} stopped serving integrations on 1 November 2026, when dbt moved accounts to "
    "their own access URLs. Use your account's access URL from Account settings → Access "
    "URLs, e.g. https://ab123.us1.dbt.com."
)
EXAMPLE = "https://ab123.us1.dbt.com"


class AccessUrlRefused(ConnectorError):
    """The access URL is not one the token may be sent to; the text says why (never the token,
    never the URL's userinfo)."""


def is_retired_host(host: str) -> bool:
    return host == RETIRED_DOMAIN or host.endswith("." + RETIRED_DOMAIN)


def access_url_checked(value: object, *, retired_ok: bool = False) -> str:
    """The access URL rebuilt as `https://<host>` from its one parse, or AccessUrlRefused.

    `retired_ok` lets a stored getdbt.com host through (dbt's own host: the client says why
    its 401 comes); the form refuses those unless an administrator allowed one."""
    text = _plain_text(value)
    parts = _parsed(text)
    scheme, host = parts.scheme, _host_name(parts.host)
    loopback = _loopback_test_mode(scheme, host)
    if scheme != "https" and not loopback:
        raise AccessUrlRefused(
            "The access URL must start with https:// (dbt Cloud serves its API over HTTPS only)."
        )
    if not host:
        raise AccessUrlRefused(f"The access URL must be https:// and the host, e.g. {EXAMPLE}.")
    # The raw text too: parse_url drops dot segments ("/.." reads as "/").
    after_host = text.partition("://")[2]
    if "/" in after_host[:-1] or parts.query is not None or parts.fragment is not None:
        raise AccessUrlRefused(
            f"Paste the access URL alone, e.g. {EXAMPLE}, without a path, ? or #."
        )
    if loopback:
        return f"http://{host}" + (f":{parts.port}" if parts.port is not None else "")
    if parts.port not in (None, HTTPS_PORT):
        raise AccessUrlRefused(
            "The access URL must not name a port: dbt Cloud answers on 443 only."
        )
    _check_host_name(host)
    _check_allowed(host, retired_ok=retired_ok)
    return f"https://{host}"


def _plain_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AccessUrlRefused(f"Paste your account's access URL, e.g. {EXAMPLE}.")
    text = value.strip()
    if any(unicodedata.category(c)[0] in "CZ" for c in text):
        raise AccessUrlRefused(
            "The access URL must not contain spaces, tabs, line breaks or other invisible "
            "characters."
        )
    if "\\" in text:
        raise AccessUrlRefused(
            "The access URL must not contain a backslash (\\): URL readers disagree on where "
            f"its host ends. Paste it as {EXAMPLE}."
        )
    if "@" in text:
        raise AccessUrlRefused(
            "The access URL must not contain @ or a user name and password before the host. "
            f"Paste it as {EXAMPLE}; the service token goes in its own field."
        )
    if "%" in text:
        raise AccessUrlRefused(
            "The access URL must not contain percent-escapes (such as %2f or %40): type the "
            "host in plain letters."
        )
    return text


def _parsed(text: str):
    try:
        return parse_url(text)
    except LocationParseError:
        # Its message repeats the input; ours does not.
        raise AccessUrlRefused(
            f"That is not a valid URL: type the host in plain letters and digits, e.g. {EXAMPLE} "
            "(full-width or other look-alike characters are not accepted)."
        ) from None


def _host_name(host: str | None) -> str:
    """The host as the client will connect to it: lower case (parse_url already gave
    non-ASCII names in their IDNA form), without the one trailing dot DNS ignores."""
    host = (host or "").lower()
    return host[:-1] if host.endswith(".") and not host.startswith("[") else host


def _loopback_test_mode(scheme: str | None, host: str) -> bool:
    """Local stand-ins in tests: http on a loopback address, only when the setting says so."""
    return scheme == "http" and settings.DBT_CLOUD_ALLOW_LOOPBACK_HTTP and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_address(host: str) -> bool:
    if host.startswith("["):
        return True
    try:
        socket.inet_aton(host)  # accepts every form a resolver would: 0x7f.1, 017700000001
        return True
    except OSError:
        pass
    return bool(NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))


def _check_host_name(host: str) -> None:
    if _is_ip_address(host):
        raise AccessUrlRefused(
            f"The access URL must name a host, not an IP address; use {EXAMPLE} or your "
            "account's own access URL."
        )
    if len(host) > 253 or not all(LABEL.match(label) for label in host.split(".")):
        raise AccessUrlRefused(
            f"{host} is not a valid host name: use your account's access URL, e.g. {EXAMPLE}."
        )


def _extra_hosts() -> set[str]:
    return {h.strip().lower().rstrip(".") for h in settings.DBT_CLOUD_EXTRA_HOSTS if h.strip()}


def _check_allowed(host: str, *, retired_ok: bool) -> None:
    extra = host in _extra_hosts()
    if is_retired_host(host):
        if extra or retired_ok:
            return
        raise AccessUrlRefused(RETIRED_MESSAGE.format(host=host))
    if CELL_HOST.match(host) or host in LEGACY_HOSTS or extra:
        return
    raise AccessUrlRefused(
        f"{host} is not a dbt Cloud host. Use your account's access URL from "
        f"Account settings → Access URLs (e.g. {EXAMPLE}); a single-tenant "
        "host must first be allowed by an administrator (DBT_CLOUD_EXTRA_HOSTS)."
    )
