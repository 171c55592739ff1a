"""Which entry of the top navigation the current page belongs to (``aria-current="page"`` on it).

A context processor: ``nav_section`` is the section of the URL name that resolved the request."""

from __future__ import annotations

from django.http import HttpRequest

from audienceadmin import roles, selectors

# URL name (or its start, ending in "_") -> the navigation entry it belongs to.
SECTIONS: dict[str, str] = {
    "audience_delete": "delete",
    "audience_browse": "audiences",
    "bulk_": "bulk",
    "request_": "requests",
    "history": "history",
    "app_": "apps",
    "people": "people",
    "person_": "people",
    "mfa_": "mfa",
    "home": "home",
}


def section_of(url_name: str) -> str:
    for start, section in SECTIONS.items():
        if url_name == start or (url_name.startswith(start) and (start.endswith("_") or url_name[len(start)] == "_")):
            return section
    return ""


def nav(request: HttpRequest) -> dict[str, object]:
    """The section, and how many deletion requests wait for this user's decision (the Requests badge)."""
    match = getattr(request, "resolver_match", None)
    context: dict[str, object] = {"nav_section": section_of(match.url_name or "") if match else ""}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.has_perm(roles.DELETE_AUDIENCE):
        context["requests_waiting"] = selectors.requests_awaiting_count(user=user)
    return context
