"""Apps and their keys: list, add, edit, archive, test the connection (key administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import roles, selectors, services
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.forms import AppForm


@require_GET
@permission_required(roles.VIEW_APPS)
def app_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "audienceadmin/app_list.html", {"apps": selectors.apps_all()})


@sensitive_post_parameters("api_key", "rest_api_key")  # never on an error report, debug or not
@require_http_methods(["GET", "POST"])
@permission_required(roles.ADD_APP)
def app_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AppForm(request.POST or None, operators=selectors.operators())
    if request.method == "POST" and form.is_valid():
        app = services.app_create(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, f"App “{app.name}” was added. Its keys are stored encrypted.")
        return redirect("app_list")
    return render(request, "audienceadmin/app_form.html", {"form": form})


@sensitive_post_parameters("api_key", "rest_api_key")  # never on an error report, debug or not
@require_http_methods(["GET", "POST"])
@permission_required(roles.CHANGE_APP)
def app_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_active(), pk=pk)
    form = AppForm(
        request.POST or None,
        instance=app,
        operators=selectors.operators(),
        initial={"name": app.name, "allowed_operators": selectors.app_allowed_operators(app)},
    )
    if request.method == "POST" and form.is_valid():
        services.app_update(actor=request.user, app=app, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, f"App “{form.cleaned_data['name']}” was saved.")
        return redirect("app_list")
    return render(request, "audienceadmin/app_form.html", {"form": form, "app": app})


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
def app_test_connection(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_active(), pk=pk)
    result = services.app_test_connection(actor=request.user, app=app, ip=client_ip(request))
    messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
    return redirect("app_list")
