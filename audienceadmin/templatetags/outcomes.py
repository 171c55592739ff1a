"""Outcome badges and Batch's answer, as every page shows them.

``outcome_badge`` is the one place the badge's markup is written: the history rows, the pages'
templates (``{% outcome_badge kind label %}``) and the bulk job's progress JSON (which the page's
script puts in place as it is) all take it from here.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from audienceadmin import wording

register = template.Library()


@register.simple_tag
def outcome_badge(kind: str, label: str) -> SafeString:
    """``kind``: an outcome (deleted, rejected, failed, unknown) or a state (pending, running, skipped)."""
    return mark_safe(f'<span class="outcome outcome-{escape(kind)}">{escape(label)}</span>')  # noqa: S308 - escaped


@register.simple_tag
def result_badge(outcome: str, label: str, http_status: int | None = None) -> SafeString:
    """An attempt's outcome badge: a 404 rejection reads "Not found (already deleted?)", neutral."""
    return outcome_badge(*wording.outcome_shown(outcome, http_status, label))


@register.simple_tag
def item_badge(item) -> SafeString:
    """A bulk item's badge: its outcome once it has one, else its state."""
    if item.outcome:
        return result_badge(item.outcome, item.get_outcome_display(), item.http_status)
    return outcome_badge(item.state, item.get_state_display())


@register.simple_tag
def connection_test_badge(http_status: int | None, error_name: str) -> SafeString:
    """The last connection test of an app: OK, or what Batch answered."""
    if http_status == 200:
        return outcome_badge("deleted", "OK")
    return outcome_badge("failed", (error_name or "failed") + (f" ({http_status})" if http_status else ""))


@register.simple_tag
def connection_test_status(app) -> SafeString:
    """An app's last connection test (``selectors.apps_all``'s annotations): its result and when; a
    warning when it failed, when there was none, or when the keys changed after it (until one passes)."""
    from audienceadmin.templatetags.times import when

    if app.last_test_id is None:
        return mark_safe('<span class="outcome outcome-unknown">Never tested</span>')  # noqa: S308 - constant
    badge = connection_test_badge(app.last_test_status, app.last_test_error)
    html = f'{badge} <span class="muted small">{when(app.last_test_at)}</span>'
    if app.keys_changed_id is not None and app.keys_changed_id > app.last_test_id:
        html += '<div class="muted small">Keys changed since: not tested yet</div>'
    return mark_safe(html)  # noqa: S308 - escaped parts


@register.simple_tag
def batch_answer(http_status: int | None, error_name: str) -> str:
    """What Batch answered: "HTTP 503 MAINTENANCE_ERROR", "HTTP 200", or ""."""
    return wording.answer_label(http_status, error_name)
