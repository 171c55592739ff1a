"""``{% when value %}``: a time in the operator's timezone, its UTC value on hover."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def when(value: datetime | None, precise: bool = False) -> str:
    if value is None:
        return "—"
    shown = "%Y-%m-%d %H:%M:%S" if precise else "%Y-%m-%d %H:%M"
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        value.isoformat(),
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        timezone.localtime(value).strftime(shown),
    )


BATCH_TIME_LABEL = "Batch time"


@register.simple_tag
def batch_time(value: object, labelled: bool = False) -> str:
    """The one place that shows Batch's own timestamps (``2018-06-29T14:59:03``): Batch names no
    timezone, so they are shown as sent (shorter), never converted to the operator's zone, and said
    to be *Batch time* (``labelled``: after the time; otherwise the column or the term says so)."""
    if value in (None, ""):
        return "—"
    text = str(value)[:40]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        return when(parsed)
    return format_html(
        '<time datetime="{}" title="As Batch sent it ({}); Batch does not say in which timezone">{}</time>{}',
        text,
        text,
        parsed.strftime("%Y-%m-%d %H:%M"),
        format_html(' <span class="muted small">({})</span>', BATCH_TIME_LABEL) if labelled else "",
    )
