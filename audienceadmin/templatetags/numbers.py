"""Numbers as people read them: counts with thousands separators (``18,250``), durations in the unit
that suits them (``3 ms``, ``5.0 s``, ``2 min 05 s``). The history rows (built in Python) call the
functions; templates use the filters: ``{{ job.items|count }}``, ``{{ event.duration_ms|duration }}``."""

from __future__ import annotations

from datetime import timedelta

from django import template

from audienceadmin import wording

register = template.Library()


@register.filter
def count(value: object) -> str:
    """``18250`` → ``18,250``; anything that is not a whole number is shown as it is (``—`` for None)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            return str(value)
    return f"{value:,}"


@register.filter
def duration(milliseconds: object) -> str:
    """A duration given in milliseconds: under a second in ms, under a minute in seconds with one
    decimal, else minutes and seconds. ``""`` for None."""
    if milliseconds is None or milliseconds == "":
        return ""
    try:
        ms = float(str(milliseconds))
    except ValueError:
        return str(milliseconds)
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds:02d} s"


@register.filter
def in_words(span: timedelta | None) -> str:
    """A span of time for people: ``timedelta(minutes=15)`` → "15 minutes"."""
    return wording.span_in_words(span)


@register.filter
def paced_span(seconds: object) -> str:
    """Seconds, for an expected duration: "about 17 minutes" style ("1,000 audiences at 1/s")."""
    try:
        total = round(float(str(seconds)))
    except ValueError:
        return str(seconds)
    if total < 90:
        return f"{total} second{'s' if total != 1 else ''}"
    minutes = round(total / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
