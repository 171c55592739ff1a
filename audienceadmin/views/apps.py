"""Apps and their keys: list, add, edit, archive, test the connection (key administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import reauth, roles, selectors, services, wording
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.forms import AppForm
from audienceadmin.models import BatchApp

# What is kept across re-authentication: never a key (keys are typed again).
KEPT_FIELDS = ["name", "allowed_operators", "approval_policy"]


def _form_page(request: AuthenticatedHttpRequest, form: AppForm, app: BatchApp | None = None) -> HttpResponse:
    context: dict[str, object] = {
        "form": form,
        "app": app,
        **reauth.notice(request, request.path, wording.REAUTH_KEYS_NOT_KEPT),
    }
    return render(request, "audienceadmin/app_form.html", context)


def _stale(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Keys or access changed too long after the last sign-in: nothing is saved; re-authenticate and
    come back to the form with the name and operators kept (keys are never kept)."""
    messages.warning(request, wording.REAUTH_KEYS_NOT_KEPT)
    return reauth.refuse(request, f"{request.path}?kept={reauth.keep(request, request.POST, KEPT_FIELDS)}")


def _changes_keys_or_access(form: AppForm, app: BatchApp) -> bool:
    data = form.cleaned_data
    operators = {u.pk for u in data.get("allowed_operators") or []}
    policy = data.get("approval_policy") not in (None, app.approval_policy)
    return (
        bool(data.get("api_key") or data.get("rest_api_key"))
        or policy
        or operators != {u.pk for u in selectors.app_allowed_operators(app)}
    )


def _test_new_keys(request: AuthenticatedHttpRequest, app: BatchApp, saved: str) -> None:
    """New keys are saved, then tested at once: the result is said with the save (a failed test does
    not undo it; the app list keeps the warning until a test passes)."""
    result = services.app_test_connection(actor=request.user, app=app, ip=client_ip(request))
    level = messages.SUCCESS if result.ok else messages.WARNING
    messages.add_message(request, level, wording.saved_and_tested(saved, result.message, result.ok))


@require_GET
@permission_required(roles.VIEW_APPS)
def app_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "audienceadmin/app_list.html", {"apps": selectors.apps_all()})


@sensitive_post_parameters("api_key", "rest_api_key")  # never on an error report, debug or not
@require_http_methods(["GET", "POST"])
@permission_required(roles.ADD_APP)
def app_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST" and not reauth.recent(request):
        return _stale(request)
    kept = reauth.kept(request, request.GET.get("kept"))
    initial = (
        {
            "name": kept.get("name", ""),
            "kind": kept.get("kind", ""),
            "allowed_operators": kept.getlist("allowed_operators"),
        }
        if kept
        else None
    )
    form = AppForm(request.POST or None, operators=selectors.operators(), initial=initial)
    if request.method == "POST" and form.is_valid():
        app = services.app_create(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        _test_new_keys(request, app, f"App “{app.name}” was added. Its keys are stored encrypted.")
        return redirect("app_list")
    return _form_page(request, form)


@sensitive_post_parameters("api_key", "rest_api_key")  # never on an error report, debug or not
@require_http_methods(["GET", "POST"])
@permission_required(roles.CHANGE_APP)
def app_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_active(), pk=pk)
    kept = reauth.kept(request, request.GET.get("kept"))
    initial = {
        "name": app.name,
        "allowed_operators": selectors.app_allowed_operators(app),
        "approval_policy": app.approval_policy,
    }
    if kept:
        initial = {
            "name": kept.get("name", app.name),
            "allowed_operators": kept.getlist("allowed_operators"),
            "approval_policy": kept.get("approval_policy", app.approval_policy),
        }
    form = AppForm(request.POST or None, instance=app, operators=selectors.operators(), initial=initial)
    if request.method == "POST" and form.is_valid():
        if _changes_keys_or_access(form, app) and not reauth.recent(request):
            return _stale(request)
        app = services.app_update(actor=request.user, app=app, ip=client_ip(request), **form.cleaned_data)
        saved = f"App “{app.name}” was saved."
        if form.cleaned_data.get("api_key") or form.cleaned_data.get("rest_api_key"):
            _test_new_keys(request, app, saved)
        else:
            messages.success(request, saved)
        return redirect("app_list")
    return _form_page(request, form, app)


@require_http_methods(["GET", "POST"])
@permission_required(roles.CHANGE_APP)
def app_archive(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_active(), pk=pk)
    if request.method == "GET":
        return render(request, "audienceadmin/app_archive.html", {"app": app})
    services.app_archive(actor=request.user, app=app, ip=client_ip(request))
    messages.success(request, f"App “{app.name}” was archived: audiences can no longer be deleted in it.")
    return redirect("app_list")


@require_POST
@permission_required(roles.CHANGE_APP)
def app_restore(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_all(), pk=pk)
    if app.archived_at is None:  # restored already (a second tab, a double click): nothing to do
        messages.info(request, wording.app_active(app.name))
    else:
        services.app_restore(actor=request.user, app=app, ip=client_ip(request))
        messages.success(request, wording.app_restored(app.name))
    return redirect("app_list")


@require_POST
@permission_required(roles.CHANGE_APP)
def app_test_connection(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_active(), pk=pk)
    result = services.app_test_connection(actor=request.user, app=app, ip=client_ip(request))
    messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
    return redirect("app_list")
