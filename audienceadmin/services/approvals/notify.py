"""Notifications of deletion requests: approvers are told of a new request, the requester (and the
approver) of the decision and the outcome. Written to an outbox (``Notification``) in the
transaction of the step, sent by the worker's janitor (``notifications_send``) with retries: a mail
server or a webhook that fails never blocks nor undoes a request. By e-mail (Django's e-mail
framework) and, if ``APPROVAL_WEBHOOK_URL`` is set, as a JSON POST. Never a key: names, people, link."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.urls import reverse

from audienceadmin import dbclock, selectors, wording
from audienceadmin.models import DeletionRequest, Notification

logger = logging.getLogger("audienceadmin.notifications")
CLAIM_SECONDS = 60  # a notification being sent is not taken by another janitor meanwhile


def _link(request: DeletionRequest) -> str:
    return settings.DASHBOARD_URL + reverse("request_detail", args=[request.pk])


def _queue(request: DeletionRequest, event: str, emails: list[str]) -> None:
    decided_by = request.decided_by.get_username() if request.decided_by else ""
    outcome = request.get_outcome_display() if request.outcome else ""
    if request.bulk_job_id:
        outcome = f"bulk job {request.bulk_job_id} queued"
    subject = wording.notification_subject(event, request.pk, request.app.name, request.title)
    body = wording.notification_body(
        event=event,
        pk=request.pk,
        app=request.app.name,
        audiences=list(request.audiences),
        requested_by=request.requested_by.get_username(),
        reason=request.reason,
        state=request.get_state_display(),
        outcome=" ".join(filter(None, [outcome, request.outcome_message])),
        decided_by=decided_by,
        comment=request.comment,
        link=_link(request),
    )
    if emails:
        Notification.objects.create(
            channel=Notification.Channel.EMAIL,
            request=request,
            event=event,
            recipients=sorted(set(emails)),
            subject=subject[:255],
            body=body,
        )
    if settings.APPROVAL_WEBHOOK_URL:
        payload = {
            "text": subject,
            "event": event,
            "request": request.pk,
            "app": request.app.name,
            "audiences": list(request.audiences[:50]),
            "audience_count": len(request.audiences),
            "requested_by": request.requested_by.get_username(),
            "state": request.state,
            "decided_by": decided_by,
            "outcome": request.outcome,
            "url": _link(request),
        }
        Notification.objects.create(
            channel=Notification.Channel.WEBHOOK, request=request, event=event, subject=subject[:255], body=body,
            payload=payload,
        )  # fmt: skip


def request_created(request: DeletionRequest) -> None:
    _queue(request, "waits for your approval", [u.email for u in selectors.approvers_of(request) if u.email])


def request_decided(request: DeletionRequest, event: str) -> None:
    """The requester, and whoever decided (an approver sees the outcome of what they approved)."""
    people = [request.requested_by, *([request.decided_by] if request.decided_by else [])]
    _queue(request, event, [u.email for u in people if u.email])


def notifications_send(*, limit: int = 50) -> int:
    """Send the notifications that are due; each failure is tried again later (backoff), up to
    ``NOTIFICATION_MAX_TRIES``. Returns how many were sent."""
    now = dbclock.db_now()
    due = Notification.objects.filter(sent_at__isnull=True, failed_at__isnull=True, next_try_at__lte=now)
    sent = 0
    for note in due.order_by("id")[:limit]:
        claimed = Notification.objects.filter(
            Q(pk=note.pk, sent_at__isnull=True, failed_at__isnull=True, next_try_at=note.next_try_at)
        ).update(next_try_at=now + timedelta(seconds=CLAIM_SECONDS), tries=F("tries") + 1)
        if not claimed:
            continue  # another janitor has it
        tries = note.tries + 1
        try:
            _send(note)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, never raised to the caller
            error = type(exc).__name__ + (f" {exc.code}" if isinstance(exc, urllib.error.HTTPError) else "")
            last = tries >= settings.NOTIFICATION_MAX_TRIES
            Notification.objects.filter(pk=note.pk).update(
                last_error=error[:255],
                next_try_at=now + timedelta(seconds=min(30 * 2**tries, 3600)),
                failed_at=now if last else None,
            )
            # Never the URL: a chat webhook's URL is a secret of its own.
            logger.warning("Notification %s (%s) failed (%s), try %d", note.pk, note.channel, error, tries)
            continue
        Notification.objects.filter(pk=note.pk).update(sent_at=dbclock.db_now(), last_error="")
        sent += 1
    return sent


def _send(note: Notification) -> None:
    if note.channel == Notification.Channel.EMAIL:
        EmailMessage(note.subject, note.body, None, list(note.recipients)).send()
        return
    url = settings.APPROVAL_WEBHOOK_URL
    if not url:
        return  # the setting was removed: nothing to send to
    data = json.dumps(note.payload).encode()
    post = urllib.request.Request(  # noqa: S310 - the deployment's own setting, http(s) only below
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": "Audience Admin"}
    )
    if not url.startswith(("http://", "https://")):
        raise ValueError("APPROVAL_WEBHOOK_URL must be an http(s) URL")
    with urllib.request.urlopen(post, timeout=settings.NOTIFICATION_TIMEOUT) as answer:  # noqa: S310
        answer.read(1024)
