"""The ticket a confirmation page hands to its form: one attempt, for one audience, one user, a short while.

The confirmation page issues a signed ticket holding a fresh attempt id, the app, the audience, the
user and Batch's impact preview. The confirm POST is only carried out with a ticket that names the
same app, audience and user, and is younger than ``CONFIRMATION_MAX_AGE``; the attempt id then
becomes the audit's attempt id, whose *requested* event is unique: a second POST of the same ticket
(a double click, two tabs, a replayed form) sends nothing and is shown the first one's outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "audienceadmin.confirmation"


class TicketExpired(Exception):
    """The ticket is genuine but too old: the preview must be looked at again."""


class TicketInvalid(Exception):
    """Missing, altered, or issued for another app, audience or user."""


@dataclass(frozen=True)
class Ticket:
    attempt: uuid.UUID
    preview: dict[str, Any]


def ticket_issue(*, user_id: int, app_id: int, audience: str, preview: dict[str, Any]) -> str:
    payload = {"attempt": uuid.uuid4().hex, "user": user_id, "app": app_id, "audience": audience, "preview": preview}
    return signing.dumps(payload, salt=SALT, compress=True)


def ticket_read(token: str, *, user_id: int, app_id: int, audience: str) -> Ticket:
    """The ticket's attempt and preview, if it was issued for exactly this deletion, recently."""
    if not token:
        raise TicketInvalid
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired:
        raise TicketExpired from None
    except signing.BadSignature:
        raise TicketInvalid from None
    if (payload.get("user"), payload.get("app"), payload.get("audience")) != (user_id, app_id, audience):
        raise TicketInvalid
    try:
        attempt = uuid.UUID(hex=str(payload.get("attempt")))
    except ValueError:
        raise TicketInvalid from None
    preview = payload.get("preview")
    return Ticket(attempt=attempt, preview=preview if isinstance(preview, dict) else {})
