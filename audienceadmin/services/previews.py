"""The impact preview: what Batch says of one audience before it is deleted, and where the delete
goes (an MEP name is looked up in Custom Audience API 1.1, then 1.0; a CEP project's in its Audience
API). Failures are a warning on the page, never an exception."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from audienceadmin import batch, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp
from audienceadmin.services import pacing
from audienceadmin.services.apps import app_credentials
from audienceadmin.services.audience_lists import read_error


@dataclass(frozen=True)
class Preview:
    """What Batch says of an audience before it is deleted. ``exists`` is None when Batch could not say.

    ``version``: the API the delete goes to (an MEP app: where the name was found, 1.1 when nowhere;
    a CEP project: its Audience API's). ``choose_version``: an MEP name found in both 1.1 and 1.0, or
    a look-up that failed, so that the operator picks the version on the confirmation page."""

    exists: bool | None
    nb_ids: int | None = None
    type: str = ""
    updated: str = ""
    indexing_state: str = ""
    warning: str = ""
    api: str = ""
    version: str = ""
    choose_version: bool = False
    keys_rejected: bool = False  # Batch answered 401/403 for the app's keys: a delete cannot work either

    def as_details(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None, False) or k == "exists"}

    @property
    def where(self) -> str:
        """ "install IDs, Custom Audience API 1.1", "custom user IDs, API 1.0", "Audience API 2.11"."""
        return wording.audience_where(self.api, self.version, self.type)


def _look_up(client: batch.Client, credentials: batch.Credentials, name: str, app: BatchApp) -> Preview:
    api, version = client.api, client.version
    try:
        response = client.get_audience(credentials, name)
    except batch.BatchApiError as exc:
        if exc.http_status == 404:
            return Preview(False, api=api, version=version)
        rejected = exc.http_status in (401, 403)
        return Preview(None, warning=read_error(exc, app), api=api, version=version, keys_rejected=rejected)
    except batch.BatchError as exc:
        return Preview(None, warning=read_error(exc, app), api=api, version=version)
    data = response.data if isinstance(response.data, dict) else {}
    nb_ids = data.get("nb_ids")
    return Preview(
        True,
        nb_ids=nb_ids if isinstance(nb_ids, int) and not isinstance(nb_ids, bool) else None,
        type=str(data.get("type") or "")[:40],
        updated=str(data.get("updated") or "")[:40],
        indexing_state=str(data.get("indexing_state") or "")[:40],
        api=api,
        version=version,
    )


def audience_preview(*, app: BatchApp, name: str) -> Preview:
    """Batch's view of ``name`` in ``app``. An MEP app's name is looked up in 1.1, then in 1.0 (the
    name spaces may be shared: Batch does not say), and the preview says which API holds it."""
    try:
        credentials = app_credentials(app)
    except DecryptionError:
        return Preview(None, warning=wording.PREVIEW_UNDECRYPTABLE, choose_version=app.kind == batch.MEP)
    if app.kind == batch.CEP:
        project = batch.CepClient(batch.get_client().transport, settings.BATCH_PROJECT_API_VERSION)
        return _look_up(project.paced(pacing.project_pacer(app)), credentials, name, app)
    return mep_resolve(batch.get_client(), credentials, name, app)


def mep_resolve(client: batch.MepClient, credentials: batch.Credentials, name: str, app: BatchApp) -> Preview:
    """``name`` looked up in 1.1 and in 1.0 through ``client`` (a bulk job's, with its gate)."""
    new, old = (_look_up(client.with_version(v), credentials, name, app) for v in ("1.1", "1.0"))
    if new.exists and old.exists:
        return dataclasses.replace(new, choose_version=True)
    if new.exists is False and old.exists is False:
        return new
    if new.exists is None or old.exists is None:  # one look-up failed: it cannot be sure where the name is
        found = new if new.exists else old if old.exists else None
        warning = new.warning or old.warning
        if found is not None:
            return dataclasses.replace(found, warning=warning, choose_version=True)
        rejected = new.keys_rejected or old.keys_rejected
        return Preview(None, warning=warning, api=batch.MEP, version="1.1", choose_version=True, keys_rejected=rejected)
    return new if new.exists else old


def delete_version(*, preview: dict[str, Any], chosen: str) -> str | None:
    """The version a confirmed delete goes to: the operator's choice where the preview (as the
    confirmation ticket kept it) asked for one, else where the preview found the name."""
    if preview.get("api") == batch.CEP:
        return None
    if preview.get("choose_version") and chosen in ("1.1", "1.0"):
        return chosen
    version = preview.get("version")
    return version if version in ("1.1", "1.0") else None


def mep_versions_in_use(client: batch.MepClient, credentials: batch.Credentials) -> tuple[str, ...] | None:
    """The Custom Audience API versions where the app has audiences (one list call each), or None when
    Batch could not say. A bulk job of an app using one version sends every item there, at no cost."""
    used = []
    for version in ("1.1", "1.0"):
        try:
            response = client.with_version(version).list_audiences(credentials, limit=1)
        except batch.BatchError:
            return None
        data = response.data if isinstance(response.data, dict) else {}
        if data.get("custom_audiences"):
            used.append(version)
    return tuple(used)
