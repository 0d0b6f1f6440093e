"""Two guards every request passes, kept in one place so that a new page cannot miss them:
a query parameter holding a NUL byte is bad input, and an account without a role sees
nothing but the page that says whom to ask."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from integrations.roles import has_role

# Views of other apps that keep their own rules: Django admin is for staff, whatever their role.
OPEN_NAMESPACES = ("admin",)


def role_not_required(view: Callable) -> Callable:
    """Mark a view an account without a role may still use (logging out)."""
    view.role_required = False
    return view


def _is_api(request: HttpRequest) -> bool:
    match = request.resolver_match
    return bool(match and "api" in match.namespaces)


class NulByteGuardMiddleware:
    """PostgreSQL text cannot hold a NUL ("A string literal cannot contain NUL
    characters"), so a query parameter with one would become a 500 in whichever query
    used it first: it is refused here, as the 400 any other bad input gets."""

    MESSAGE = "A query parameter contains a NUL character (%00), which no name or text can hold."

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return None
        if _is_api(request):
            return JsonResponse({"error": self.MESSAGE}, status=400)
        return render(request, "bad_request.html", {"message": self.MESSAGE}, status=400)


class RoleRequiredMiddleware:
    """Every page needs a role (Analysts, Admins, or a superuser), not only a login: a new
    account has none until someone gives it one. Runs after LoginRequiredMiddleware, so it
    only sees logged-in people.

    Views that are open without a login (the login page, the read API, which answers its
    own JSON 403 to token and session callers alike), Django admin and views marked
    role_not_required are left alone."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated or has_role(request.user):
            return None
        if not getattr(view_func, "login_required", True):
            return None
        if not getattr(view_func, "role_required", True):
            return None
        if request.resolver_match and request.resolver_match.app_name in OPEN_NAMESPACES:
            return None
        from catalog.selectors.people import no_role_message

        return render(request, "no_role.html", {"message": no_role_message()}, status=403)
