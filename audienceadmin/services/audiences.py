"""Reading audiences from Batch: a page of the list (the audience browser), and one audience before
it is deleted (the impact preview). Failures are a message for the page, never an exception."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from audienceadmin import batch, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp
from audienceadmin.services.apps import app_credentials

PAGE_SIZE = 50  # audiences a page of the browser lists


@dataclass(frozen=True)
class AudienceList:
    audiences: list[dict[str, Any]]
    offset: int
    limit: int
    error: str = ""

    @property
    def has_next(self) -> bool:
        return len(self.audiences) == self.limit

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def previous_offset(self) -> int:
        return max(0, self.offset - self.limit)

    @property
    def next_offset(self) -> int:
        return self.offset + self.limit


def _read_error(exc: batch.BatchError, app: BatchApp) -> str:
    return wording.read_error(
        app.name,
        status=exc.http_status,
        refused=isinstance(exc, batch.BatchApiError),
        reason=exc.reason,
        error_name=exc.name,
        message=exc.message,
    )


def audience_list(*, app: BatchApp, offset: int = 0, limit: int = PAGE_SIZE) -> AudienceList:
    """A page of the app's audiences as Batch lists them (newest first). Failures are a message."""
    try:
        response = batch.get_client().list_audiences(app_credentials(app), offset=offset, limit=limit)
    except DecryptionError:
        return AudienceList([], offset, limit, wording.list_undecryptable(app.name))
    except batch.BatchError as exc:
        return AudienceList([], offset, limit, _read_error(exc, app))
    data = response.data if isinstance(response.data, dict) else {}
    items = [a for a in data.get("custom_audiences") or [] if isinstance(a, dict) and isinstance(a.get("name"), str)]
    return AudienceList(items, offset, limit)


@dataclass(frozen=True)
class Preview:
    """What Batch says of an audience before it is deleted. ``exists`` is None when Batch could not say."""

    exists: bool | None
    nb_ids: int | None = None
    type: str = ""
    updated: str = ""
    indexing_state: str = ""
    warning: str = ""

    def as_details(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None)}


def audience_preview(*, app: BatchApp, name: str) -> Preview:
    try:
        response = batch.get_client().get_audience(app_credentials(app), name)
    except DecryptionError:
        return Preview(None, warning=wording.PREVIEW_UNDECRYPTABLE)
    except batch.BatchApiError as exc:
        if exc.http_status == 404:
            return Preview(False)
        return Preview(None, warning=_read_error(exc, app))
    except batch.BatchError as exc:
        return Preview(None, warning=_read_error(exc, app))
    data = response.data if isinstance(response.data, dict) else {}
    nb_ids = data.get("nb_ids")
    return Preview(
        True,
        nb_ids=nb_ids if isinstance(nb_ids, int) and not isinstance(nb_ids, bool) else None,
        type=str(data.get("type") or "")[:40],
        updated=str(data.get("updated") or "")[:40],
        indexing_state=str(data.get("indexing_state") or "")[:40],
    )
