"""The Batch boundary: everything that talks to Batch's APIs, and nothing else does.

``transport`` (timeouts, retries, the deadline, the pause gate in ``gate``, bounded reads, redaction;
its session in ``session``, error bodies in ``answers``) is shared by the dialects; ``mep`` speaks
Custom Audience API 1.0/1.1 (an MEP app), ``cep`` the Audience API 2.x (a CEP project). Both return
the same ``BatchResponse`` and raise the same outcomes (``errors``). Services ask ``client_for(kind)``
and never see a URL. ``simulator/`` is a stand-alone Batch for the demo and the tests.

A third dialect: a module with a client class of the same shape (``api``, ``version``, ``label``,
``delete_audience``, ``get_audience``, ``list_audiences``, ``bound``, ``new_gate``) building
``transport.Request``s, a value in ``KINDS`` and a branch in ``client_for``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from audienceadmin.batch.cep import CepClient
from audienceadmin.batch.errors import (
    BatchApiError,
    BatchError,
    BatchResponse,
    BatchUnavailable,
    NotSent,
    OutcomeUnknown,
    answer_label,
)
from audienceadmin.batch.mep import MepClient
from audienceadmin.batch.secrets import Credentials, Secret, key_hint
from audienceadmin.batch.transport import (
    ClientConfig,
    PauseGate,
    StopCheck,
    Transport,
    refuse_new_calls,
    shutting_down,
)

__all__ = [
    "BatchApiError",
    "BatchError",
    "BatchResponse",
    "BatchUnavailable",
    "CepClient",
    "ClientConfig",
    "Client",
    "Credentials",
    "MepClient",
    "NotSent",
    "OutcomeUnknown",
    "PauseGate",
    "Secret",
    "StopCheck",
    "Transport",
    "answer_label",
    "client_for",
    "config_from_settings",
    "get_client",
    "is_valid_audience_name",
    "key_hint",
    "refuse_new_calls",
    "shutting_down",
]

MEP, CEP = "mep", "cep"
KINDS = (MEP, CEP)
Client = MepClient | CepClient

AUDIENCE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_valid_audience_name(name: str) -> bool:
    """Batch's rule for audience names (the same for every API): letters, digits, ``_``, ``-``; 1–255."""
    return AUDIENCE_NAME_RE.fullmatch(name) is not None


def config_from_settings() -> ClientConfig:
    from django.conf import settings

    return ClientConfig(
        base_url=settings.BATCH_API_URL.rstrip("/"),
        connect_timeout=settings.BATCH_API_CONNECT_TIMEOUT,
        read_timeout=settings.BATCH_API_TIMEOUT,
        deadline=settings.BATCH_API_DEADLINE,
        max_tries=settings.BATCH_API_MAX_TRIES,
    )


@lru_cache(maxsize=4)
def _transport_for(config: ClientConfig) -> Transport:
    return Transport(config)


def get_client() -> MepClient:
    """The process-wide client (one connection pool) for the current settings."""
    return MepClient(_transport_for(config_from_settings()))


def client_for(kind: str, *, version: str | None = None) -> Client:
    """The client of an app of ``kind`` (``MEP``: Custom Audience API ``version``, 1.1 unless said;
    ``CEP``: ``BATCH_PROJECT_API_VERSION`` unless said), sharing the process-wide transport."""
    from django.conf import settings

    if kind == CEP:
        # The MEP client's transport: one connection pool (and, in tests, one fake clock) for both.
        return CepClient(get_client().transport, version or settings.BATCH_PROJECT_API_VERSION)
    if kind == MEP:
        return get_client().with_version(version) if version else get_client()
    raise ValueError(f"unknown kind of Batch app: {kind!r}")
