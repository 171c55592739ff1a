"""What several areas' views share: reading a number from the query string."""

from __future__ import annotations

from django.http import HttpRequest


def int_param(request: HttpRequest, name: str) -> int | None:
    """A non-negative integer from the query string (a page cursor, an offset), or None."""
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None
