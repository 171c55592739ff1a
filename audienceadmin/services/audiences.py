"""Reading audiences from Batch: a page of the list (the audience browser), and one audience before
it is deleted (the impact preview). Failures are a message for the page, never an exception."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from audienceadmin import batch, wording
from audienceadmin.batch.mep import LIST_MAX
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
    total: int | None = None  # known when the page was cut from the full list (search, sorts)

    @property
    def has_next(self) -> bool:
        if self.total is not None:
            return self.offset + self.limit < self.total
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


def _list_page(
    client: batch.MepClient, credentials: batch.Credentials, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One call to the list route: the audiences it lists (those with a name), and how many entries the
    page held. The one place that knows the route and its answer's shape (another API's goes here)."""
    response = client.list_audiences(credentials, offset=offset, limit=limit)
    data = response.data if isinstance(response.data, dict) else {}
    page = data.get("custom_audiences") or []
    page = page if isinstance(page, list) else []
    return [a for a in page if isinstance(a, dict) and isinstance(a.get("name"), str)], len(page)


def audience_list(*, app: BatchApp, offset: int = 0, limit: int = PAGE_SIZE) -> AudienceList:
    """A page of the app's audiences as Batch lists them (newest first). Failures are a message."""
    try:
        items, _count = _list_page(batch.get_client(), app_credentials(app), offset, limit)
    except DecryptionError:
        return AudienceList([], offset, limit, wording.list_undecryptable(app.name))
    except batch.BatchError as exc:
        return AudienceList([], offset, limit, _read_error(exc, app))
    return AudienceList(items, offset, limit)


@dataclass(frozen=True)
class FullList:
    """Every audience of an app, read page by page. ``complete`` is False when the reading stopped
    early (an error, or more than AUDIENCE_LIST_MAX audiences): names not in it may still exist."""

    audiences: list[dict[str, Any]]
    complete: bool
    error: str = ""
    calls: int = 0

    def by_name(self) -> dict[str, dict[str, Any]]:
        return {a["name"]: a for a in self.audiences}


def all_audiences(*, app: BatchApp, max_audiences: int | None = None) -> FullList:
    """The app's whole audience list, through the list route a page of ``LIST_MAX`` at a time
    (one call per hundred audiences, never one per name). The one place a full list is read: another
    API's list route (a cursor instead of an offset) goes here too."""
    limit = max_audiences or settings.AUDIENCE_LIST_MAX
    client, audiences, calls, offset = batch.get_client(), list[dict[str, Any]](), 0, 0
    try:
        credentials = app_credentials(app)
        while offset < limit:
            page, count = _list_page(client, credentials, offset, LIST_MAX)
            calls, offset = calls + 1, offset + count
            audiences.extend(page)
            if count < LIST_MAX:
                return FullList(audiences, True, calls=calls)
    except DecryptionError:
        return FullList(audiences, False, wording.list_undecryptable(app.name), calls)
    except batch.BatchError as exc:
        return FullList(audiences, False, _read_error(exc, app), calls)
    return FullList(audiences, False, wording.list_too_long(limit), calls)


def _cache_key(app: BatchApp) -> str:
    return f"audiences:{app.pk}:{app.api_key_hint}:{app.rest_api_key_hint}"


def all_audiences_cached(*, app: BatchApp, fresh: bool = False) -> FullList:
    """``all_audiences``, kept AUDIENCE_LIST_CACHE_SECONDS per app (the browser's search and sorts:
    one full read, then each page from memory). A list read with an error is not kept."""
    key = _cache_key(app)
    listing = None if fresh else cache.get(key)
    if not isinstance(listing, FullList):
        listing = all_audiences(app=app)
        if listing.complete:
            cache.set(key, listing, settings.AUDIENCE_LIST_CACHE_SECONDS)
    return listing


def all_audiences_forget(*, app: BatchApp) -> None:
    """After a deletion from this instance, the browser reads the list again."""
    cache.delete(_cache_key(app))


BROWSE_SORTS = {
    "newest": "Newest first (as Batch lists them)",
    "name": "Name, A → Z",
    "-name": "Name, Z → A",
    "-size": "Largest first",
    "size": "Smallest first",
    "-updated": "Recently updated first",
    "updated": "Least recently updated first",
}
PAGE_SIZES = (25, 50, 100)


def _sort_key(sort: str) -> Any:
    field = sort.lstrip("-")
    if field == "name":
        return lambda a: (a["name"].lower(), a["name"])
    if field == "size":
        return lambda a: a.get("nb_ids") if isinstance(a.get("nb_ids"), int) else -1
    return lambda a: str(a.get("updated") or "")


def audience_browse(*, app: BatchApp, search: str = "", sort: str = "newest", offset: int = 0,
                    limit: int = PAGE_SIZE, fresh: bool = False) -> AudienceList:  # fmt: skip
    """A page of the browser. Batch's own order with no search: one list call, as before. A search
    (a substring of the name, any case) or another order: cut from the app's full list (cached)."""
    search = search.strip()
    if not search and sort not in BROWSE_SORTS.keys() - {"newest"}:
        return audience_list(app=app, offset=offset, limit=limit)
    listing = all_audiences_cached(app=app, fresh=fresh)
    if listing.error and not listing.audiences:
        return AudienceList([], offset, limit, listing.error, total=0)
    rows = listing.audiences
    if search:
        needle = search.casefold()
        rows = [a for a in rows if needle in a["name"].casefold()]
    if sort in BROWSE_SORTS and sort != "newest":
        rows = sorted(rows, key=_sort_key(sort), reverse=sort.startswith("-"))
    return AudienceList(rows[offset : offset + limit], offset, limit, listing.error, total=len(rows))


@dataclass(frozen=True)
class Existence:
    """Which names of a bulk list Batch has, from the app's full list."""

    existing: list[str]
    missing: list[str]
    total_ids: int
    unknown_sizes: int
    error: str = ""

    @property
    def checked(self) -> bool:
        return not self.error


def audiences_existence(*, app: BatchApp, names: list[str]) -> Existence:
    """Compare a list with the app's full list (read fresh). When the list cannot be read whole, every
    name counts as existing (the operator may proceed) and ``error`` says why."""
    listing = all_audiences(app=app)
    if not listing.complete:
        return Existence(list(names), [], 0, len(names), listing.error)
    known = listing.by_name()
    existing = [n for n in names if n in known]
    sizes = [known[n].get("nb_ids") for n in existing]
    counted = [s for s in sizes if isinstance(s, int) and not isinstance(s, bool)]
    return Existence(existing, [n for n in names if n not in known], sum(counted), len(sizes) - len(counted))


@dataclass(frozen=True)
class Preview:
    """What Batch says of an audience before it is deleted. ``exists`` is None when Batch could not say."""

    exists: bool | None
    nb_ids: int | None = None
    type: str = ""
    updated: str = ""
    indexing_state: str = ""
    warning: str = ""
    keys_rejected: bool = False  # Batch answered 401/403 for the app's keys: a delete cannot work either

    def as_details(self) -> dict[str, Any]:
        details = {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None)}
        if not self.keys_rejected:
            del details["keys_rejected"]
        return details


def audience_preview(*, app: BatchApp, name: str) -> Preview:
    try:
        response = batch.get_client().get_audience(app_credentials(app), name)
    except DecryptionError:
        return Preview(None, warning=wording.PREVIEW_UNDECRYPTABLE)
    except batch.BatchApiError as exc:
        if exc.http_status == 404:
            return Preview(False)
        return Preview(None, warning=_read_error(exc, app), keys_rejected=exc.http_status in (401, 403))
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
