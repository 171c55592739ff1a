"""The audit trail: the history pages, their CSV export, one event with its attempt."""

from __future__ import annotations

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audienceadmin import csv_export, roles, selectors, services
from audienceadmin.access import AuthenticatedHttpRequest, permission_required
from audienceadmin.forms import HistoryFilterForm
from audienceadmin.models import AuditEvent
from audienceadmin.views.common import int_param


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.attempts_sweep_now_and_then()  # close attempts whose process died
    form = HistoryFilterForm(request.GET)
    filters = form.to_filter()
    page = selectors.history_page(filters, before=int_param(request, "before"), after=int_param(request, "after"))
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
            "apps": selectors.apps_for_filter(),
            "outcomes": AuditEvent.Outcome.choices,
            "verification": selectors.last_verification(),
        },
    )


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history_export(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """The filtered events as CSV, streamed row by row (constant memory), MACs included."""
    filters = HistoryFilterForm(request.GET).to_filter()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_export.response(
        selectors.EXPORT_FIELDS,
        selectors.history_export_rows(filters),
        filename=f"audit-{filters.view}-{stamp}.csv",
    )


@require_GET
@permission_required(roles.VIEW_AUDIT)
def history_event(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        event, events = selectors.audit_event_with_attempt(pk)
    except AuditEvent.DoesNotExist:
        raise Http404("No such audit event") from None
    return render(request, "audienceadmin/history_event.html", {"event": event, "events": events})
