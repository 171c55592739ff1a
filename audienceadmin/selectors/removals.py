"""Where CEP removals stand after Batch accepted them (``services.removals`` follows them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from audienceadmin.models import RemovalFollowUp


def removal_follow_ups(attempts: Iterable[object]) -> dict[object, RemovalFollowUp]:
    """The follow-ups of these attempts (those of CEP removals Batch accepted), by attempt: one query."""
    wanted = [a for a in attempts if isinstance(a, uuid.UUID)]
    if not wanted:
        return {}
    return {f.attempt: f for f in RemovalFollowUp.objects.filter(attempt__in=wanted)}


def removal_follow_up(attempt: object) -> RemovalFollowUp | None:
    return removal_follow_ups([attempt]).get(attempt) if isinstance(attempt, uuid.UUID) else None
