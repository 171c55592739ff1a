"""Bulk deletion: the list (pasted, uploaded or picked), its review, the job page and its live
progress, the results CSV, cancelling."""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import csv_export, reauth, roles, selectors, services, uploads, wording
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.forms import BulkConfirmForm, BulkNamesForm
from audienceadmin.models import BatchApp, BulkJob
from audienceadmin.names import NameReport, bulk_names_check
from audienceadmin.templatetags.outcomes import result_badge
from audienceadmin.views import approvals

ITEMS_PER_PAGE = 100

KEPT_FIELDS = ["app", "names", "count", "retry_of", "reason"]


def _review(
    request: AuthenticatedHttpRequest,
    report: NameReport,
    app: BatchApp,
    form: BulkConfirmForm,
    status: int = 200,
    retry_of: BulkJob | None = None,
) -> HttpResponse:
    """The review page. A sign-in older than REAUTHENTICATION_MINUTES shows "Confirm it's you" first;
    the list is kept in the session (names only) and the page comes back after re-authenticating."""
    existence = services.audiences_existence(app=app, names=report.valid)
    if not form.is_bound:  # only the names Batch has are sent (all of them when its list could not be read)
        form.initial["names"] = "\n".join(existence.existing)
    context: dict[str, object] = {
        "report": report,
        "app": app,
        "form": form,
        "existence": existence,
        "missing_set": set(existence.missing),
        "header_note": wording.header_skipped(report.header),
        "retry_of": retry_of,
        "paced_seconds": services.expected_seconds(app, len(existence.existing)),
        "rate_text": wording.project_rate(settings.BATCH_PROJECT_RATE),
    }
    if not reauth.recent(request):
        data = form.data if isinstance(form.data, QueryDict) and form.is_bound else QueryDict(mutable=True)
        if not form.is_bound:
            data.update({"app": str(app.pk), "names": "\n".join(existence.existing)})
            if retry_of is not None:
                data.update({"retry_of": str(retry_of.pk)})
        context |= reauth.notice(request, f"{reverse('bulk_new')}?kept={reauth.keep(request, data, KEPT_FIELDS)}")
    return render(request, "audienceadmin/bulk_review.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(roles.DELETE_AUDIENCE)
def bulk_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Paste, upload or pick names; a valid POST shows the validation report with the confirmation."""
    apps = selectors.apps_for_delete(user=request.user)
    data = request.POST.copy() if request.method == "POST" else None
    if data is not None and "picked" in data:  # from the audience browser's checkboxes
        data["names"] = "\n".join(data.getlist("picked"))
    refused = uploads.refused_uploads(request) if data is not None else frozenset()
    kept = reauth.kept(request, request.GET.get("kept"))  # back from re-authenticating
    if kept is not None:
        confirm = BulkConfirmForm(kept, apps=apps)
        if not ("app" in confirm.errors or "names" in confirm.errors):
            app, name_list = confirm.cleaned_data["app"], confirm.cleaned_data["name_list"]
            if "count" not in kept:  # nothing typed yet: no error to show
                confirm = BulkConfirmForm(initial={"app": app, "names": "\n".join(name_list)}, apps=apps)
            retry_of = _retried_job(request, kept.get("retry_of"), app)
            return _review(request, bulk_names_check("\n".join(name_list)), app, confirm, retry_of=retry_of)
    form = BulkNamesForm(data, request.FILES or None, apps=apps, refused_files=refused)
    if data is not None and form.is_valid():
        report = form.cleaned_data["report"]
        confirm = BulkConfirmForm(
            initial={"app": form.cleaned_data["app"], "names": "\n".join(report.valid)}, apps=apps
        )
        return _review(request, report, form.cleaned_data["app"], confirm)
    jobs = selectors.bulk_jobs_recent(user=request.user)
    return render(request, "audienceadmin/bulk_new.html", {"form": form, "jobs": jobs})


@require_POST
@permission_required(roles.DELETE_AUDIENCE)
def bulk_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    apps = selectors.apps_for_delete(user=request.user)
    form = BulkConfirmForm(request.POST, apps=apps)
    if not form.is_valid():
        if "app" in form.errors or "names" in form.errors:
            messages.error(request, "That bulk request was not valid; nothing was started.")
            return redirect("bulk_new")
        report = bulk_names_check("\n".join(form.cleaned_data["name_list"]))
        retry_of = _retried_job(request, request.POST.get("retry_of"), form.cleaned_data["app"])
        return _review(request, report, form.cleaned_data["app"], form, status=400, retry_of=retry_of)
    if not reauth.recent(request):  # nothing starts: re-authenticate, then the same review
        messages.warning(request, wording.REAUTH_KEPT)
        return reauth.refuse(request, f"{reverse('bulk_new')}?kept={reauth.keep(request, request.POST, KEPT_FIELDS)}")
    if form.cleaned_data["app"].needs_approval:  # the two-person rule: one request for the whole list
        names = form.cleaned_data["name_list"]
        return approvals.ask(request, form.cleaned_data["app"], names, form.cleaned_data["reason"], bulk=True,
                             preview={"count": len(names)})  # fmt: skip
    try:
        job = services.bulk_job_create(
            actor=request.user,
            app=form.cleaned_data["app"],
            names=form.cleaned_data["name_list"],
            ip=client_ip(request),
            retry_of=_retried_job(request, request.POST.get("retry_of"), form.cleaned_data["app"]),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("bulk_new")
    count = selectors.bulk_job_items(job).count()
    messages.success(request, f"Bulk job {job.pk} queued: {count} audiences of app “{job.app.name}”.")
    return redirect("bulk_job", job.pk)


def _retried_job(request: AuthenticatedHttpRequest, pk: str | None, app: BatchApp) -> BulkJob | None:
    """The job a review retries (sent back by its form), if the user may follow it and it is of ``app``."""
    if not pk or not pk.isdigit():
        return None
    return selectors.bulk_jobs_for(user=request.user).filter(pk=int(pk), app=app).first()


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def bulk_job_retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """ "Retry the failed and not-attempted items": the same review, for a new job linked to this one.
    Items whose outcome is unknown are taken only if ticked (``?unknown=NAME``)."""
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    if job.is_active:
        messages.warning(request, wording.RETRY_NOT_ENDED)
        return redirect("bulk_job", job.pk)
    again, unknown = selectors.bulk_job_retry_items(job)
    ticked = set(request.GET.getlist("unknown"))
    names = again + [n for n in unknown if n in ticked]
    app = get_object_or_404(selectors.apps_for_delete(user=request.user), pk=job.app_id)
    if not names:
        messages.info(request, wording.NOTHING_TO_RETRY)
        return redirect("bulk_job", job.pk)
    confirm = BulkConfirmForm(initial={"app": app}, apps=selectors.apps_for_delete(user=request.user))
    return _review(request, bulk_names_check("\n".join(names)), app, confirm, retry_of=job)


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def bulk_job(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The job's progress and one page of its items (a 5,000-item job is 50 pages, not one huge page)."""
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    cursor = selectors.bulk_job_cursor(job)  # before the items: a change in between is polled again
    page = Paginator(selectors.bulk_job_items(job), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    again, unknown = ([], []) if job.is_active else selectors.bulk_job_retry_items(job)
    context = {
        "job": job,
        "progress": selectors.bulk_job_progress(job),
        "page": page,
        "cursor": cursor,
        "retry_count": len(again),
        "retry_unknown": unknown,
    }
    if job.app.kind == BatchApp.Kind.CEP:  # where each removal Batch accepted stands
        context["removals"] = selectors.removal_follow_ups(item.attempt for item in page)
    return render(request, "audienceadmin/bulk_job.html", context)


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def bulk_job_progress(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """Polled by the job page (static/audienceadmin/bulk.js) to update the bar and the rows: the counts,
    and the items changed after ``?since=`` (a cursor the previous answer gave); each item carries its
    badge as the page renders it, which the script puts in place."""
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    since = request.GET.get("since", "")
    items, cursor, more = selectors.bulk_items_changed(job, since=int(since) if since.isdigit() else 0)
    progress = selectors.bulk_job_progress(job)
    for item in items:
        item["badge"] = result_badge(item["outcome"] or item["state"], item["label"], item["http_status"])
    return JsonResponse(
        {
            **dataclasses.asdict(progress),
            "remaining": progress.remaining,
            "percent": progress.percent,
            "summary": progress.summary,
            "items": items,
            "cursor": cursor,
            "more": more,
        }
    )


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def bulk_job_results(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    return csv_export.response(
        selectors.RESULTS_COLUMNS, selectors.bulk_job_results_rows(job), filename=f"bulk-job-{job.pk}.csv"
    )


@require_POST
@permission_required(roles.DELETE_AUDIENCE)
def bulk_job_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(selectors.bulk_jobs_for(user=request.user), pk=pk)
    job = services.bulk_job_cancel(actor=request.user, job=job, ip=client_ip(request))
    messages.warning(request, "Cancelling: audiences not yet started will not be deleted.")
    return redirect("bulk_job", job.pk)
