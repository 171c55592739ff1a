"""Times in the operator's timezone: their browser names it (static/audienceadmin/tz.js sets the
``tz`` cookie), this activates it for the request. Anything else falls back to ``TIME_ZONE``."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.utils import timezone

COOKIE = "tz"


@cache
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


class OperatorTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = _zone(request.COOKIES.get(COOKIE, "")[:64])
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
