"""The Content-Security-Policy every response carries, and cookies marked Secure over HTTPS.

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


class SecureCookiesOverHttpsMiddleware:
    """Marks the session and CSRF cookies Secure on a response to an HTTPS request.

    The catalog runs over plain HTTP on a laptop and behind TLS in production, often both for
    one installation: a fixed SESSION_COOKIE_SECURE would either break the first or leave the
    second sending its session in clear after a redirect. Behind a proxy that ends TLS, set
    SECURE_PROXY_SSL_HEADER so that request.is_secure() knows."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.is_secure():
            for name in self.names:
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response
