"""The Batch boundary: everything that talks to Batch's APIs, and nothing else does.

``transport`` (timeouts, retries, the deadline, the pause gate, bounded reads, redaction) is shared by
the dialects; ``mep`` speaks Custom Audience API 1.0/1.1. Services ask for a client here and handle
the outcomes in ``errors``. ``simulator/`` is a stand-alone Batch for the demo and the tests.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
    "ClientConfig",
    "Credentials",
    "MepClient",
    "NotSent",
    "OutcomeUnknown",
    "PauseGate",
    "Secret",
    "StopCheck",
    "Transport",
    "answer_label",
    "config_from_settings",
    "get_client",
    "is_valid_audience_name",
    "key_hint",
    "refuse_new_calls",
    "shutting_down",
]

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
