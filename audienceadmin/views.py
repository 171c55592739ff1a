from __future__ import annotations

import csv
import dataclasses
import io
import ipaddress
import logging
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import bulk, selectors, services
from audienceadmin.forms import (
    AppForm,
    BulkConfirmForm,
    BulkNamesForm,
    ConfirmDeleteForm,
    DeleteAudienceForm,
    HistoryFilterForm,
)
from audienceadmin.models import AuditEvent, BatchApp

logger = logging.getLogger(__name__)
OUTCOME_LEVEL = {
    AuditEvent.Outcome.DELETED: messages.SUCCESS,
    AuditEvent.Outcome.REJECTED: messages.ERROR,
    AuditEvent.Outcome.FAILED: messages.ERROR,
    AuditEvent.Outcome.UNKNOWN: messages.WARNING,
    AuditEvent.Outcome.NOT_SENT: messages.WARNING,
}


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for the audit trail and login throttling. Behind N trusted reverse
    proxies (DJANGO_TRUSTED_PROXY_COUNT), the N-th address from the right of X-Forwarded-For:
    what the nearest proxy saw; anything further left could be forged by the client."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            candidate = hops[-count]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
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
    """What this user can do here: quick actions, their apps' key status, recent deletions."""
    user = request.user
    context = {}
    if user.has_perm("audienceadmin.view_auditevent"):
        context["recent"] = selectors.recent_attempts()
        context["verification"] = selectors.last_verification()
    if user.has_perm("audienceadmin.delete_audience"):
        context["my_apps"] = selectors.apps_for_delete(user=user)
        context["active_jobs"] = selectors.bulk_jobs_active(user=user)
    if user.has_perm("audienceadmin.view_batchapp"):
        context["key_apps"] = selectors.apps_with_key_status()
    return render(request, "audienceadmin/home.html", context)


# --- apps and keys ----------------------------------------------------------------------------


@require_GET
@permission_required("audienceadmin.view_batchapp")
def app_list(request: HttpRequest) -> HttpResponse:
    return render(request, "audienceadmin/app_list.html", {"apps": selectors.apps_all()})


@sensitive_post_parameters("api_key", "rest_api_key")
@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.add_batchapp")
def app_create(request: HttpRequest) -> HttpResponse:
    form = AppForm(request.POST or None, operators=selectors.operators())
    if request.method == "POST" and form.is_valid():
        app = services.app_create(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, f"App “{app.name}” was added. Its keys are stored encrypted.")
        return redirect("app_list")
    return render(request, "audienceadmin/app_form.html", {"form": form})


@sensitive_post_parameters("api_key", "rest_api_key")
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
    """Step 1: pick an app and a name. A valid POST (or a GET from the audience browser's
    "Delete…" link, with app and name) shows the confirmation page (step 2)."""
    apps = selectors.apps_for_delete(user=request.user)
    data = request.POST if request.method == "POST" else (request.GET if "name" in request.GET else None)
    form = DeleteAudienceForm(data, apps=apps)
    if data is not None and form.is_valid():
        return _confirmation(request, form.cleaned_data["app"], form.cleaned_data["name"])
    return render(request, "audienceadmin/delete_form.html", {"form": form, "apps": apps}, status=200)


PREVIEW_SALT = "audienceadmin.preview"


def _confirmation(request: HttpRequest, app, name: str, form=None, status: int = 200) -> HttpResponse:
    """The confirmation page, with Batch's impact preview (also sealed into the form for the audit)."""
    preview = services.audience_preview(app=app, name=name)
    token = signing.dumps(preview.as_details(), salt=PREVIEW_SALT)
    if form is None:
        form = ConfirmDeleteForm(initial={"app": app, "name": name}, apps=selectors.apps_for_delete(user=request.user))
    context = {"form": form, "app": app, "name": name, "preview": preview, "preview_token": token}
    return render(request, "audienceadmin/delete_confirm.html", context, status=status)


@require_POST
@permission_required("audienceadmin.delete_audience")
def audience_delete_confirm(request: HttpRequest) -> HttpResponse:
    """Step 3: the name was typed again; call Batch, say what happened, redirect."""
    form = ConfirmDeleteForm(request.POST, apps=selectors.apps_for_delete(user=request.user))
    if not form.is_valid():
        if "app" in form.errors or "name" in form.errors:
            messages.error(request, "That deletion request was not valid; nothing was deleted.")
            return redirect("audience_delete")
        return _confirmation(request, form.cleaned_data["app"], form.cleaned_data["name"], form=form, status=400)
    try:
        preview = signing.loads(form.cleaned_data["preview"], salt=PREVIEW_SALT, max_age=3600)
    except signing.BadSignature:
        preview = {"missing": True}  # expired or altered: the audit says there was none
    try:
        result = services.audience_delete(
            actor=request.user,
            app=form.cleaned_data["app"],
            name=form.cleaned_data["name"],
            ip=client_ip(request),
            details={"preview": preview},
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


# --- browsing audiences ---------------------------------------------------------------------------


@require_GET
@permission_required("audienceadmin.delete_audience")
def audience_browse(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_for_delete(user=request.user), pk=pk)
    offset = _cursor(request, "from") or 0
    listing = services.audience_list(app=app, offset=offset, limit=50)
    return render(
        request,
        "audienceadmin/audience_browse.html",
        {"app": app, "listing": listing, "apps": selectors.apps_for_delete(user=request.user)},
    )


@require_GET
@permission_required("audienceadmin.delete_audience")
def audience_browse_pick(request: HttpRequest) -> HttpResponse:
    apps = list(selectors.apps_for_delete(user=request.user))
    if request.GET.get("app", "").isdigit():
        return redirect("audience_browse", int(request.GET["app"]))
    if len(apps) == 1:
        return redirect("audience_browse", apps[0].pk)
    return render(request, "audienceadmin/audience_pick.html", {"apps": apps})


# --- bulk deletion ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("audienceadmin.delete_audience")
def bulk_new(request: HttpRequest) -> HttpResponse:
    """Paste, upload or pick names; a valid POST shows the validation report with the confirmation."""
    apps = selectors.apps_for_delete(user=request.user)
    data = request.POST.copy() if request.method == "POST" else None
    if data is not None and "picked" in data:  # from the audience browser's checkboxes
        data["names"] = "\n".join(data.getlist("picked"))
    form = BulkNamesForm(data, request.FILES or None, apps=apps)
    if data is not None and form.is_valid():
        report = form.cleaned_data["report"]
        confirm = BulkConfirmForm(
            initial={"app": form.cleaned_data["app"], "names": "\n".join(report.valid)}, apps=apps
        )
        return render(
            request,
            "audienceadmin/bulk_review.html",
            {"report": report, "app": form.cleaned_data["app"], "form": confirm},
        )
    jobs = selectors.bulk_jobs_recent(user=request.user)
    return render(request, "audienceadmin/bulk_new.html", {"form": form, "jobs": jobs})


@require_POST
@permission_required("audienceadmin.delete_audience")
def bulk_confirm(request: HttpRequest) -> HttpResponse:
    apps = selectors.apps_for_delete(user=request.user)
    form = BulkConfirmForm(request.POST, apps=apps)
    if not form.is_valid():
        if "app" in form.errors or "names" in form.errors:
            messages.error(request, "That bulk request was not valid; nothing was started.")
            return redirect("bulk_new")
        report = bulk.bulk_names_check("\n".join(form.cleaned_data["name_list"]))
        context = {"report": report, "app": form.cleaned_data["app"], "form": form}
        return render(request, "audienceadmin/bulk_review.html", context, status=400)
    try:
        job = bulk.bulk_job_create(
            actor=request.user,
            app=form.cleaned_data["app"],
            names=form.cleaned_data["name_list"],
            ip=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("bulk_new")
    messages.success(request, f"Bulk job {job.pk} queued: {job.items.count()} audiences of app “{job.app.name}”.")
    return redirect("bulk_job", job.pk)


@require_GET
@permission_required("audienceadmin.delete_audience")
def bulk_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    bulk.bulk_jobs_resume()  # a job whose worker died is queued again
    return render(
        request,
        "audienceadmin/bulk_job.html",
        {"job": job, "progress": bulk.bulk_job_progress(job), "items": job.items.order_by("position")},
    )


@require_GET
@permission_required("audienceadmin.delete_audience")
def bulk_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the job page (static/audienceadmin/bulk.js) to update the bar and the rows."""
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    progress = bulk.bulk_job_progress(job)
    return JsonResponse(
        {
            **dataclasses.asdict(progress),
            "remaining": progress.remaining,
            "percent": progress.percent,
            "items": selectors.bulk_items_started(job),
        }
    )


@require_GET
@permission_required("audienceadmin.delete_audience")
def bulk_job_results(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    response = StreamingHttpResponse(bulk.bulk_job_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-job-{job.pk}.csv"'
    return response


@require_POST
@permission_required("audienceadmin.delete_audience")
def bulk_job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    job = bulk.bulk_job_cancel(actor=request.user, job=job, ip=client_ip(request))
    messages.warning(request, "Cancelling: audiences not yet started will not be deleted.")
    return redirect("bulk_job", job.pk)
