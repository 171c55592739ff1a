"""An app's whole audience list, read page by page through its API's list route (never one call per
name): for the browser's search and sorts (kept a minute per app) and for a bulk list's existence
check. The one place that knows each list route's answer: an MEP version's offset pages
(``custom_audiences``), a CEP project's cursor pages (``audiences``, ``next_from``, ``count``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from audienceadmin import batch, wording
from audienceadmin.batch import cep, mep
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp
from audienceadmin.services import pacing
from audienceadmin.services.apps import app_credentials


def read_error(exc: batch.BatchError, app: BatchApp) -> str:
    return wording.read_error(
        app.name,
        status=exc.http_status,
        refused=isinstance(exc, batch.BatchApiError),
        reason=exc.reason,
        error_name=exc.name,
        message=exc.message,
    )


def _named(items: Any) -> list[dict[str, Any]]:
    return (
        [a for a in items if isinstance(a, dict) and isinstance(a.get("name"), str)] if isinstance(items, list) else []
    )


def project_client(app: BatchApp) -> batch.CepClient:
    """A CEP project's client, at the project's shared pace."""
    client = batch.CepClient(batch.get_client().transport, settings.BATCH_PROJECT_API_VERSION)
    return client.paced(pacing.project_pacer(app))


def mep_page(
    client: batch.MepClient, credentials: batch.Credentials, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One call to an MEP version's list route: the audiences it lists (those with a name, each with
    its ``api_version``), and how many entries the page held."""
    response = client.list_audiences(credentials, offset=offset, limit=limit)
    data = response.data if isinstance(response.data, dict) else {}
    page = data.get("custom_audiences")
    held = len(page) if isinstance(page, list) else 0
    return [a | {"api_version": client.version} for a in _named(page)], held


def cep_page(
    client: batch.CepClient, credentials: batch.Credentials, cursor: str, limit: int
) -> tuple[list[dict[str, Any]], str, int | None]:
    """One call to a CEP project's list route: its audiences, the next page's cursor ("" at the end)
    and the project's total (first page only)."""
    response = client.list_audiences(credentials, cursor=cursor, limit=limit)
    data = response.data if isinstance(response.data, dict) else {}
    count = data.get("count")
    next_from = data.get("next_from") if data.get("has_more") else ""
    return (
        _named(data.get("audiences")),
        next_from if isinstance(next_from, str) else "",
        count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


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


# A paced CEP project answers one call a second (BATCH_PROJECT_RATE): a page waiting on its whole list
# reads at most this many pages (1,000 audiences, ~10 s), then says the list was not read whole.
PACED_LIST_CALLS = 10


def all_audiences(*, app: BatchApp, max_audiences: int | None = None) -> FullList:
    """The app's whole audience list, a hundred audiences a call (both versions of an MEP app)."""
    limit = max_audiences or settings.AUDIENCE_LIST_MAX
    paced = app.kind == batch.CEP and pacing.project_interval() >= 0.1 and limit > PACED_LIST_CALLS * cep.LIST_MAX
    limit = PACED_LIST_CALLS * cep.LIST_MAX if paced else limit
    audiences: list[dict[str, Any]] = []
    calls, seen = 0, 0
    try:
        credentials = app_credentials(app)
        if app.kind == batch.CEP:
            client, cursor = project_client(app), ""
            while seen < limit:
                page, cursor, _count = cep_page(client, credentials, cursor, cep.LIST_MAX)
                calls, seen = calls + 1, seen + len(page)
                audiences += page
                if not cursor:
                    return FullList(audiences, True, calls=calls)
        else:
            for version in mep.VERSIONS:
                mep_client, offset, held = batch.get_client().with_version(version), 0, mep.LIST_MAX
                while held == mep.LIST_MAX and seen < limit:
                    page, held = mep_page(mep_client, credentials, offset, mep.LIST_MAX)
                    calls, offset, seen = calls + 1, offset + held, seen + held
                    audiences += page
                if held == mep.LIST_MAX:  # stopped at the limit, not at the end of the list
                    break
            else:
                return FullList(audiences, True, calls=calls)
    except DecryptionError:
        return FullList(audiences, False, wording.list_undecryptable(app.name), calls)
    except batch.BatchError as exc:
        return FullList(audiences, False, read_error(exc, app), calls)
    return FullList(audiences, False, wording.list_too_long(limit, paced=paced), calls)


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
