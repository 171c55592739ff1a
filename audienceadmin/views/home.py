from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audienceadmin import roles, selectors
from audienceadmin.access import AuthenticatedHttpRequest


@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What this user can do here: quick actions, their apps' key status, recent deletions."""
    user = request.user
    context: dict[str, Any] = {}
    if user.has_perm(roles.VIEW_AUDIT):
        context["recent"] = selectors.recent_attempts(user=user)
        context["verification"] = selectors.last_verification()
    if user.has_perm(roles.DELETE_AUDIENCE):
        context["my_apps"] = selectors.apps_for_delete(user=user)
        context["active_jobs"] = selectors.bulk_jobs_active(user=user)
        context["awaiting"] = selectors.requests_awaiting(user=user)[:10]
    if user.has_perm(roles.VIEW_APPS):
        context["key_apps"] = selectors.apps_with_key_status()
    return render(request, "audienceadmin/home.html", context)
