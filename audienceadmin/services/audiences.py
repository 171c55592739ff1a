"""Reading audiences from Batch for the audience browser: a page in Batch's own order (an MEP app's
two API versions side by side; a CEP project's cursor), or a page cut from the whole list when the
operator searches or sorts. Failures are a message for the page, never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audienceadmin import batch, wording
from audienceadmin.batch import cep, mep
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp
from audienceadmin.services.apps import app_credentials
from audienceadmin.services.audience_lists import (
    all_audiences_cached,
    cep_page,
    mep_page,
    project_client,
    read_error,
)

PAGE_SIZE = 50  # audiences a page of the browser lists
PAGE_SIZES = (25, 50, 100)
BROWSE_SORTS = {
    "newest": "Newest first (as Batch lists them)",
    "name": "Name, A → Z",
    "-name": "Name, Z → A",
    "-size": "Largest first",
    "size": "Smallest first",
    "-updated": "Recently updated first",
    "updated": "Least recently updated first",
}


@dataclass(frozen=True)
class AudienceList:
    """A page of an app's audiences. In Batch's order, an MEP app's page holds both API versions
    (``offset`` applied to each; every audience has ``api_version``) and a CEP project's follows
    Batch's cursor (``cursor``, ``next_cursor``, the project's ``count`` on its first page). Cut from
    the whole list (a search, a sort), ``total`` is how many audiences match."""

    audiences: list[dict[str, Any]]
    offset: int
    limit: int
    error: str = ""
    total: int | None = None
    cursor: str = ""
    next_cursor: str = ""
    count: int | None = None
    by_cursor: bool = False

    @property
    def has_next(self) -> bool:
        if self.total is not None:
            return self.offset + self.limit < self.total
        if self.by_cursor:
            return bool(self.next_cursor)
        return any(self._full(v) for v in mep.VERSIONS)

    def _full(self, version: str) -> bool:
        return sum(1 for a in self.audiences if a.get("api_version") == version) == self.limit

    @property
    def has_previous(self) -> bool:
        return bool(self.cursor) if self.by_cursor and self.total is None else self.offset > 0

    @property
    def previous_offset(self) -> int:
        return max(0, self.offset - self.limit)

    @property
    def next_offset(self) -> int:
        return self.offset + self.limit


def audience_list(*, app: BatchApp, offset: int = 0, limit: int = PAGE_SIZE, cursor: str = "") -> AudienceList:
    """A page of the app's audiences as Batch lists them (newest first): one list call per API."""
    if app.kind == batch.CEP:
        return _project_list(app, cursor, limit)
    audiences: list[dict[str, Any]] = []
    try:
        credentials = app_credentials(app)
        for version in mep.VERSIONS:
            page, _count = mep_page(batch.get_client().with_version(version), credentials, offset, limit)
            audiences += page
    except DecryptionError:
        return AudienceList([], offset, limit, wording.list_undecryptable(app.name))
    except batch.BatchError as exc:
        return AudienceList([], offset, limit, read_error(exc, app))
    return AudienceList(audiences, offset, limit)


def _project_list(app: BatchApp, cursor: str, limit: int) -> AudienceList:
    try:
        page, next_cursor, count = cep_page(project_client(app), app_credentials(app), cursor, min(limit, cep.LIST_MAX))
    except DecryptionError:
        return AudienceList([], 0, limit, wording.list_undecryptable(app.name), cursor=cursor, by_cursor=True)
    except batch.BatchError as exc:
        return AudienceList([], 0, limit, read_error(exc, app), cursor=cursor, by_cursor=True)
    return AudienceList(page, 0, limit, cursor=cursor, next_cursor=next_cursor, count=count, by_cursor=True)


def _sort_key(sort: str) -> Any:
    field = sort.lstrip("-")
    if field == "name":
        return lambda a: (a["name"].lower(), a["name"])
    if field == "size":
        return lambda a: a.get("nb_ids") if isinstance(a.get("nb_ids"), int) else -1
    return lambda a: str(a.get("updated") or "")


def audience_browse(*, app: BatchApp, search: str = "", sort: str = "newest", offset: int = 0, cursor: str = "",
                    limit: int = PAGE_SIZE, fresh: bool = False) -> AudienceList:  # fmt: skip
    """A page of the browser. Batch's own order with no search: one list call per API, as before. A
    search (a substring of the name, any case) or another order: cut from the app's whole list (cached)."""
    search = search.strip()
    if not search and sort not in BROWSE_SORTS.keys() - {"newest"}:
        return audience_list(app=app, offset=offset, limit=limit, cursor=cursor)
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
