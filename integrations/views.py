"""Views of the Integrations tab: thin, each validating a form and calling a service or selector."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from .connectors import UnknownConnector, registry_entry
from .connectors.base import CATEGORY_LABELS, WAREHOUSE
from .forms import DisconnectForm, ScheduleForm, connect_form_class
from .models import Integration, SyncRun
from .roles import can_manage_integrations, require_manager
from .selectors import (
    dbt_overview,
    gallery,
    integration_active_run,
    integration_catalog_counts,
    integration_list,
    integration_runs,
    next_sync_at,
)
from .services import (
    IntegrationHasDependents,
    SyncAlreadyActive,
    integration_create,
    integration_delete,
    integration_dependents_stranded,
    integration_requirements_missing,
    integration_test_connection,
    integration_update,
    integration_update_test,
    sync_start,
)
from .services.schedule import integration_schedule_set
from .sync_errors import sync_error_for


@require_safe
def integration_list_view(request: HttpRequest) -> HttpResponse:
    integrations = integration_list()
    for integration in integrations:
        integration.next_sync = next_sync_at(integration)
    return render(
        request,
        "integrations/list.html",
        {
            "integrations": integrations,
            "can_manage": can_manage_integrations(request.user),
        },
    )


@require_safe
def gallery_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    groups = gallery(query=query)
    return render(
        request,
        "integrations/gallery.html",
        {
            "groups": groups,
            "any_match": any(group.matches for group in groups),
            "query": query,
            "can_manage": can_manage_integrations(request.user),
            "warehouse_anchor": reverse("integrations:gallery") + f"#category-{WAREHOUSE}",
        },
    )


def _connector_or_404(key: str):
    try:
        entry = registry_entry(key)
    except UnknownConnector:
        raise Http404("No such connector") from None
    return entry


def connect_view(request: HttpRequest, key: str) -> HttpResponse:
    require_manager(request.user)
    entry = _connector_or_404(key)
    if not entry.available:
        return render(request, "integrations/unavailable.html", {"entry": entry}, status=404)
    connector = entry.connector
    missing = integration_requirements_missing(connector)
    if missing:
        return render(
            request,
            "integrations/requirement_missing.html",
            {"connector": connector, "missing": [CATEGORY_LABELS[m] for m in missing]},
            status=403 if request.method == "POST" else 200,
        )
    form = connect_form_class(connector)(data=request.POST if request.method == "POST" else None)

    def save():
        integration = integration_create(
            connector_key=connector.key,
            name=form.cleaned_data["name"],
            config=form.config(),
            user=request.user,
        )
        messages.success(request, f"Connected {integration.name}. Run its first sync now.")
        return redirect("integrations:detail", pk=integration.pk)

    def test() -> str:
        return integration_test_connection(connector=connector, config=form.config())

    return _connect_form_page(request, connector, form, save, test, {"editing": False})


def _connect_form_page(request, connector, form, save, test, context: dict) -> HttpResponse:
    """The connect and edit forms: *Test connection* tests without saving; saving tests
    too (in the service) and the service's refusals land beside the fields."""
    test_result = None
    if request.method == "POST" and form.is_valid():
        try:
            if "_test" in request.POST:
                test_result = test()
                form.tested()
            else:
                return save()
        except ValidationError as exc:
            form.add_service_error(exc)
    typed_secrets = [
        form.fields[name].label or name
        for name in connector.secret_fields
        if test_result and request.POST.get(name)
    ]
    return render(
        request,
        "integrations/connect.html",
        {
            "connector": connector,
            "form": form,
            "test_result": test_result,
            "retype": typed_secrets,
            **context,
        },
    )


@require_safe
def detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration, pk=pk)
    can_manage = can_manage_integrations(request.user)
    runs = integration_runs(integration)
    for run in runs:
        # Errors name hosts, ports and users: analysts see a short reason instead.
        run.error_shown = sync_error_for(run, full=can_manage)
    active_run = integration_active_run(integration)
    return render(
        request,
        "integrations/detail.html",
        {
            "integration": integration,
            "connector": integration.connector_obj,
            "settings": _settings_rows(integration) if can_manage else [],
            "runs": runs,
            "active_run": active_run,
            # The bar shows the running sync, or else how the last one ended.
            "current_run": active_run or (runs[0] if runs else None),
            "counts": integration_catalog_counts(integration),
            "next_sync": next_sync_at(integration),
            "schedule_form": ScheduleForm.for_integration(integration),
            "dbt": None if integration.connector_obj.is_warehouse else dbt_overview(integration),
            "can_manage": can_manage,
        },
    )


def _settings_rows(integration: Integration) -> list[tuple[str, str]]:
    """Label and value of every setting but the secrets, which only say whether one is set."""
    connector = integration.connector_obj
    form = connector.form()
    rows = []
    for name, field in form.fields.items():
        value = integration.config.get(name)
        if name in connector.secret_fields:
            shown = "set (hidden)" if value else "not set"
        elif isinstance(value, list):
            shown = ", ".join(value) or "—"
        else:
            shown = "—" if value in (None, "") else str(value)
        rows.append((field.label or name.replace("_", " ").capitalize(), shown))
    return rows


def edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_manager(request.user)
    integration = get_object_or_404(Integration, pk=pk)
    connector = integration.connector_obj
    form = connect_form_class(connector)(
        data=request.POST if request.method == "POST" else None, instance=integration
    )

    def save():
        integration_update(
            integration=integration, name=form.cleaned_data["name"], config=form.config()
        )
        messages.success(request, "Settings saved.")
        return redirect("integrations:detail", pk=integration.pk)

    def test() -> str:
        # Through the service, as saving is: a stored secret never meets a changed host.
        return integration_update_test(integration=integration, config=form.config())

    return _connect_form_page(
        request, connector, form, save, test, {"editing": True, "integration": integration}
    )


@require_POST
def sync_now_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_manager(request.user)
    integration = get_object_or_404(Integration, pk=pk)
    try:
        run = sync_start(integration=integration, user=request.user)
        if run.status == SyncRun.Status.FAILED:  # the broker refused its task
            messages.error(request, f"Sync #{run.pk} failed: {run.error}")
        else:
            messages.success(request, f"Sync #{run.pk} queued.")
    except SyncAlreadyActive as exc:
        messages.warning(request, str(exc))
    fallback = reverse("integrations:detail", args=[pk])
    return redirect(_same_site_path(request, request.POST.get("next")) or fallback)


def _same_site_path(request: HttpRequest, target: str | None) -> str | None:
    """The target if it is a path on this site ("/integrations/"), else None: no scheme,
    no host, and none of the "//host" or "/\\host" forms browsers read as another host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return target


@require_POST
def schedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_manager(request.user)
    integration = get_object_or_404(Integration, pk=pk)
    form = ScheduleForm(data=request.POST)
    if form.is_valid():
        integration_schedule_set(integration=integration, cron=form.cron_expression())
        messages.success(
            request, "Schedule saved." if integration.schedule else "Schedule removed."
        )
        return redirect("integrations:detail", pk=pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, f"Schedule not saved: {error}")
    return redirect("integrations:detail", pk=pk)


def disconnect_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_manager(request.user)
    integration = get_object_or_404(Integration, pk=pk)
    dependents = integration_dependents_stranded(integration)
    form = DisconnectForm(data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            removed = integration_delete(
                integration=integration,
                disconnect_dependents=form.cleaned_data["disconnect_dependents"],
            )
        except IntegrationHasDependents as exc:
            form.add_error("disconnect_dependents", exc.messages[0])
        else:
            messages.success(request, f"Disconnected {', '.join(removed)}.")
            return redirect("integrations:list")
    return render(
        request,
        "integrations/disconnect.html",
        {
            "integration": integration,
            "dependents": dependents,
            "counts": integration_catalog_counts(integration),
            "run_count": integration.runs.count(),
            "form": form,
        },
    )


@require_safe
def run_status_view(request: HttpRequest, pk: int, run_id: int) -> JsonResponse:
    run = get_object_or_404(SyncRun, pk=run_id, integration_id=pk)
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "status_label": run.get_status_display(),
            "progress_done": run.progress_done,
            "progress_total": run.progress_total,
            "percent": run.progress_percent,
            "finished": not run.is_active,
            "error": sync_error_for(run, full=can_manage_integrations(request.user)),
        }
    )
