"""The audience browser: an app's audiences as Batch lists them, a page at a time."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from audienceadmin import roles, selectors, services
from audienceadmin.access import AuthenticatedHttpRequest, permission_required
from audienceadmin.views.common import int_param


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def audience_browse(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(selectors.apps_for_delete(user=request.user), pk=pk)
    if app.is_project:  # Batch's opaque cursor
        cursor = request.GET.get("from", "")[:200]
        listing = services.audience_list(app=app, cursor=cursor, limit=services.AUDIENCE_PAGE_SIZE)
    else:
        offset = int_param(request, "from") or 0
        listing = services.audience_list(app=app, offset=offset, limit=services.AUDIENCE_PAGE_SIZE)
    return render(
        request,
        "audienceadmin/audience_browse.html",
        {"app": app, "listing": listing, "apps": selectors.apps_for_delete(user=request.user)},
    )


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def audience_browse_pick(request: AuthenticatedHttpRequest) -> HttpResponse:
    apps = list(selectors.apps_for_delete(user=request.user))
    if request.GET.get("app", "").isdigit():
        return redirect("audience_browse", int(request.GET["app"]))
    if len(apps) == 1:
        return redirect("audience_browse", apps[0].pk)
    return render(request, "audienceadmin/audience_pick.html", {"apps": apps})
