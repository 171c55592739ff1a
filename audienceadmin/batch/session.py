"""The HTTP session every dialect shares: pooled, cookie-less, its connections under the deadline
watchdog, and urllib3's request lines logged without the MEP key in the path."""

from __future__ import annotations

import http.cookiejar
import logging
import re
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from audienceadmin.batch import deadline

_KEY_IN_PATH_RE = re.compile(r"(/1\.\d+/)[^/\s\"?]+")


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def __init__(self) -> None:
        super().__init__(allowed_domains=[])


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter, with urllib3 pools whose connections join the thread's deadline exchange."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = deadline.POOL_CLASSES


def new_session() -> requests.Session:
    session = requests.Session()
    # No cookie is ever kept: the session is shared between threads and needs no state.
    session.cookies.set_policy(_NoCookies())
    adapter = _GuardedAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _RedactKeysInUrls(logging.Filter):
    """urllib3 logs request lines at DEBUG; an MEP API key is a path segment there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_KEY_IN_PATH_RE.sub(r"\1<key>", a) if isinstance(a, str) else a for a in args)
        record.msg = _KEY_IN_PATH_RE.sub(r"\1<key>", str(record.msg))
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactKeysInUrls())
