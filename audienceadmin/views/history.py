"""The audit trail: the history pages, their CSV export, one event with its attempt."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audienceadmin import csv_export, roles, selectors, services
from audienceadmin.access import AuthenticatedHttpRequest, permission_required
from audienceadmin.forms import HistoryFilterForm
from audienceadmin.models import AuditEvent
from audienceadmin.views.common import int_param


def _filter_form(request: AuthenticatedHttpRequest) -> HistoryFilterForm:
    """The filters of the page and of its CSV: one form, so the same URL gives the same rows and errors."""
    return HistoryFilterForm(request.GET, apps=selectors.apps_in_history(user=request.user))


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.attempts_sweep_now_and_then()  # close attempts whose process died
    services.login_bursts_close()  # failed logins counted in a burst that is over: their event
    form = _filter_form(request)
    filters = form.to_filter()
    if form.is_valid():
        page = selectors.history_page(
            filters, user=request.user, before=int_param(request, "before"), after=int_param(request, "after")
        )
    else:
        page = selectors.HistoryPage(rows=[], newer=None, older=None)  # the errors say why
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
            "views": selectors.HISTORY_VIEW_CHOICES,
            "view_label": selectors.HISTORY_VIEWS[filters.view].label,
            "apps": selectors.apps_for_filter(user=request.user),
            "outcomes": AuditEvent.Outcome.choices,
            "verification": selectors.last_verification(),
        },
        status=200 if form.is_valid() else 400,
    )


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history_export(request: AuthenticatedHttpRequest) -> StreamingHttpResponse | HttpResponseBadRequest:
    """The filtered events as CSV, streamed row by row (constant memory), MACs included; a filter
    that is not valid refuses the download with the page's error (never a file of other rows)."""
    form = _filter_form(request)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain; charset=utf-8")
    filters = form.to_filter()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_export.response(
        selectors.EXPORT_COLUMNS,
        selectors.history_export_rows(filters, user=request.user),
        filename=f"audit-{filters.view}-{stamp}.csv",
    )


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history_event(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        event, events = selectors.audit_event_with_attempt(pk, user=request.user)
    except AuditEvent.DoesNotExist:
        raise Http404("No such audit event") from None
    removal = selectors.removal_follow_up(event.attempt) if event.attempt else None
    context = {"event": event, "events": events, "removal": removal}
    return render(request, "audienceadmin/history_event.html", context)
