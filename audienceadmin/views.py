from __future__ import annotations

import csv
import io
import logging
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import selectors, services
from audienceadmin.forms import AppForm, ConfirmDeleteForm, DeleteAudienceForm, HistoryFilterForm
from audienceadmin.models import AuditEvent, BatchApp

logger = logging.getLogger(__name__)
OUTCOME_LEVEL = {
    AuditEvent.Outcome.DELETED: messages.SUCCESS,
    AuditEvent.Outcome.REJECTED: messages.ERROR,
    AuditEvent.Outcome.FAILED: messages.ERROR,
    AuditEvent.Outcome.UNKNOWN: messages.WARNING,
}


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def permission_required(perm: str):
    """Like Django's (403 for a logged-in user without ``perm``), and the refusal is audited."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(perm):
                services.security_event_record(
                    kind=AuditEvent.Kind.PERMISSION_DENIED,
                    actor=request.user,
                    ip=client_ip(request),
                    message=f"{request.method} {request.path[:200]} needs {perm}",
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    recent = None
    if request.user.has_perm("audienceadmin.view_auditevent"):
        recent = selectors.recent_attempts()
    return render(request, "audienceadmin/home.html", {"recent": recent})


# --- apps and keys ----------------------------------------------------------------------------


@require_GET
@permission_required("audienceadmin.view_batchapp")
def app_list(request: HttpRequest) -> HttpResponse:
    return render(request, "audienceadmin/app_list.html", {"apps": selectors.apps_all()})


@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.add_batchapp")
def app_create(request: HttpRequest) -> HttpResponse:
    form = AppForm(request.POST or None, operators=selectors.operators())
    if request.method == "POST" and form.is_valid():
        app = services.app_create(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, f"App “{app.name}” was added. Its keys are stored encrypted.")
        return redirect("app_list")
    return render(request, "audienceadmin/app_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.change_batchapp")
def app_edit(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(BatchApp, pk=pk, archived_at__isnull=True)
    form = AppForm(
        request.POST or None,
        instance=app,
        operators=selectors.operators(),
        initial={"name": app.name, "allowed_operators": app.allowed_operators.all()},
    )
    if request.method == "POST" and form.is_valid():
        services.app_update(actor=request.user, app=app, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, f"App “{form.cleaned_data['name']}” was saved.")
        return redirect("app_list")
    return render(request, "audienceadmin/app_form.html", {"form": form, "app": app})


@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.change_batchapp")
def app_archive(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(BatchApp, pk=pk, archived_at__isnull=True)
    if request.method == "GET":
        return render(request, "audienceadmin/app_archive.html", {"app": app})
    services.app_archive(actor=request.user, app=app, ip=client_ip(request))
    messages.success(request, f"App “{app.name}” was archived: audiences can no longer be deleted in it.")
    return redirect("app_list")


@require_POST
@permission_required("audienceadmin.change_batchapp")
def app_test_connection(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(BatchApp, pk=pk, archived_at__isnull=True)
    result = services.app_test_connection(actor=request.user, app=app, ip=client_ip(request))
    messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
    return redirect("app_list")


# --- deleting an audience -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.delete_audience")
def audience_delete(request: HttpRequest) -> HttpResponse:
    """Step 1: pick an app and a name. A valid POST shows the confirmation page (step 2)."""
    apps = selectors.apps_for_delete(user=request.user)
    form = DeleteAudienceForm(request.POST or None, apps=apps, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        confirm = ConfirmDeleteForm(initial=form.cleaned_data, apps=apps)
        return render(request, "audienceadmin/delete_confirm.html", {"form": confirm, **form.cleaned_data})
    return render(request, "audienceadmin/delete_form.html", {"form": form, "apps": apps})


@require_POST
@permission_required("audienceadmin.delete_audience")
def audience_delete_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: the name was typed again; call Batch, say what happened, redirect."""
    form = ConfirmDeleteForm(request.POST, apps=selectors.apps_for_delete(user=request.user))
    if not form.is_valid():
        if "app" in form.errors or "name" in form.errors:
            messages.error(request, "That deletion request was not valid; nothing was deleted.")
            return redirect("audience_delete")
        return render(
            request,
            "audienceadmin/delete_confirm.html",
            {"form": form, **form.cleaned_data},
            status=400,
        )
    try:
        result = services.audience_delete(
            actor=request.user,
            app=form.cleaned_data["app"],
            name=form.cleaned_data["name"],
            ip=client_ip(request),
        )
    except DatabaseError:
        logger.exception("Could not record a deletion request; nothing was sent to Batch")
        return render(request, "audienceadmin/audit_unavailable.html", form.cleaned_data, status=503)
    messages.add_message(request, OUTCOME_LEVEL[result.outcome], result.message)
    return redirect("history")


# --- history --------------------------------------------------------------------------------------


@require_GET
@permission_required("audienceadmin.view_auditevent")
def history(request: HttpRequest) -> HttpResponse:
    services.attempts_sweep_now_and_then()  # close attempts whose process died
    form = HistoryFilterForm(request.GET)
    filters = form.to_filter()
    page = selectors.history_page(filters, before=_cursor(request, "before"), after=_cursor(request, "after"))
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return render(
        request,
        "audienceadmin/history.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "views": HistoryFilterForm.VIEWS,
            "apps": selectors.apps_for_filter(),
            "outcomes": AuditEvent.Outcome.choices,
            "verification": selectors.last_verification(),
        },
    )


def _cursor(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@require_GET
@permission_required("audienceadmin.view_auditevent")
def history_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered events as CSV, streamed row by row (constant memory), MACs included."""
    filters = HistoryFilterForm(request.GET).to_filter()

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(selectors.EXPORT_FIELDS)
        for n, row in enumerate(selectors.history_export_rows(filters), start=1):
            writer.writerow(row)
            if n % 1000 == 0:  # one chunk per thousand rows: memory stays flat, overhead stays low
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{filters.view}-{stamp}.csv"'
    return response


@require_GET
@permission_required("audienceadmin.view_auditevent")
def history_event(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        event, events = selectors.audit_event_with_attempt(pk)
    except AuditEvent.DoesNotExist:
        raise Http404("No such audit event") from None
    return render(request, "audienceadmin/history_event.html", {"event": event, "events": events})
