"""A person's API tokens: create one (shown once), see when each was used, revoke."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “dbt docs bot”.")


def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(data=request.POST if request.method == "POST" else None)
    created = None
    if request.method == "POST" and form.is_valid():
        _token, created = ApiToken.issue(user=request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request, "catalog/tokens.html", {"form": form, "tokens": tokens, "created": created}
    )


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ApiToken, pk=pk, user=request.user).delete()
    return redirect("account:tokens")
