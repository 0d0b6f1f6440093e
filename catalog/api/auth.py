"""Who is calling: the logged-in session, or `Authorization: Token <personal token>`."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..models import ApiToken
from ..models.tokens import hash_token

ALLOWED_METHODS = ("GET",)


def api_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _token_user(request):
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme not in ("Token", "Bearer") or not raw.strip():
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw.strip())).first()
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def api_view(view):
    """GET only, JSON errors, and a 401 (not a login redirect) without credentials.

    CSRF-exempt: the API changes nothing, and a write method must get its JSON 405, not
    the CSRF middleware's HTML 403."""

    @csrf_exempt
    @login_not_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ALLOWED_METHODS:
            response = api_error(405, "The read API only answers GET.")
            response["Allow"] = ", ".join(ALLOWED_METHODS)
            return response
        if request.headers.get("Authorization"):
            user = _token_user(request)
            if user is None:
                return api_error(
                    401, "Unknown or revoked token: create one on your API tokens page."
                )
            request.user = user
        elif not request.user.is_authenticated:
            return api_error(401, "Log in, or send Authorization: Token <your personal API token>.")
        if not request.user.has_perm("catalog.view_table"):
            from ..selectors.people import no_role_message

            return api_error(403, no_role_message())
        try:
            return view(request, *args, **kwargs)
        except ValueError as exc:
            return api_error(400, str(exc))

    return wrapper
