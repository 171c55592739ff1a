"""What several areas' views share: reading a number from the query string; the page for an
operator with no app yet."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

from audienceadmin import roles, selectors
from audienceadmin.access import View


def int_param(request: HttpRequest, name: str) -> int | None:
    """A non-negative integer from the query string (a page cursor, an offset), or None."""
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def needs_an_app(view: View, *, title: str) -> View:
    """A page of the delete, browse or bulk flows, for an operator with no active app open to them:
    a page that says so and how to get one (a key administrator adds it: with the link when that is
    them), instead of a form whose app list is empty. Anyone else goes on to the view (and its
    permission check)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if (
            request.method == "GET"
            and user.has_perm(roles.DELETE_AUDIENCE)
            and not selectors.apps_for_delete(user=user).exists()  # type: ignore[arg-type]
        ):
            return render(request, "audienceadmin/no_app.html", {"title": title}, status=200)
        return view(request, *args, **kwargs)

    return wrapped
