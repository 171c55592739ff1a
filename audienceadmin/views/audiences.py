"""The audience browser: an app's audiences as Batch lists them, a page at a time."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from audienceadmin import roles, selectors, services
from audienceadmin.access import AuthenticatedHttpRequest, permission_required
from audienceadmin.views.common import int_param


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def audience_browse(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A page of an app's audiences: Batch's order, or searched (``q``) and sorted (``sort``) across
    the whole app; ``per`` audiences a page, from offset ``from``."""
    app = get_object_or_404(selectors.apps_for_delete(user=request.user), pk=pk)
    search = request.GET.get("q", "")[:255]
    sort = request.GET.get("sort", "newest")
    sort = sort if sort in services.AUDIENCE_SORTS else "newest"
    per = int_param(request, "per")
    per = per if per in services.AUDIENCE_PAGE_SIZES else services.AUDIENCE_PAGE_SIZE
    by_cursor = app.is_project and not search and sort == "newest"  # Batch's opaque cursor
    listing = services.audience_browse(
        app=app, search=search, sort=sort, limit=per, fresh=request.GET.get("fresh") == "1",
        offset=0 if by_cursor else int_param(request, "from") or 0,
        cursor=request.GET.get("from", "")[:200] if by_cursor else "",
    )  # fmt: skip
    defaults = {("sort", "newest"), ("per", str(services.AUDIENCE_PAGE_SIZE))}
    query = {k: v for k, v in {"q": search, "sort": sort, "per": str(per)}.items() if v and (k, v) not in defaults}
    context = {
        "app": app,
        "listing": listing,
        "apps": selectors.apps_for_delete(user=request.user),
        "search": search,
        "sort": sort,
        "per": per,
        "sorts": services.AUDIENCE_SORTS,
        "page_sizes": services.AUDIENCE_PAGE_SIZES,
        "keep": urlencode(query),
    }
    return render(request, "audienceadmin/audience_browse.html", context)


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def audience_browse_pick(request: AuthenticatedHttpRequest) -> HttpResponse:
    apps = list(selectors.apps_for_delete(user=request.user))
    if request.GET.get("app", "").isdigit():
        return redirect("audience_browse", int(request.GET["app"]))
    if len(apps) == 1:
        return redirect("audience_browse", apps[0].pk)
    return render(request, "audienceadmin/audience_pick.html", {"apps": apps})
