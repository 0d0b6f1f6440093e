"""The Content-Security-Policy every response carries.

Django 5.2 has none built in. Pages load script and style from this site's static files
only, with no inline <script>, no on* handler, no javascript: URL, no style attribute and
no eval: so an injected tag or URL that slips past escaping still cannot run. The policy is
the SECURE_CSP setting, in the form Django 6.0's own middleware reads.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """First in MIDDLEWARE, so that every response gets the header: pages, the API, admin,
    static files, redirects and the 400, 403, 404 and 500 pages of the middleware below."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.header = policy_header(settings.SECURE_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(HEADER, self.header)
        return response
