"""gunicorn settings for production: `gunicorn -c audienceadmin/gunicorn.conf.py audienceadmin.wsgi`.

Every knob is an environment variable (a `.env` at the root is read too; the environment wins):

GUNICORN_BIND                  address to listen on (default 0.0.0.0:8000)
GUNICORN_WORKERS               worker processes (default 2 x cores + 1, at most 8)
GUNICORN_THREADS               threads per worker, gthread worker class (default 4)
GUNICORN_TIMEOUT               seconds before a silent worker is killed and replaced (default 60)
GUNICORN_GRACEFUL_TIMEOUT      seconds in-flight requests get to finish on restart or stop (default 60)
GUNICORN_KEEPALIVE             seconds an idle keep-alive connection stays open (default 5)
GUNICORN_FORWARDED_ALLOW_IPS   proxies allowed to set X-Forwarded-Proto (default 127.0.0.1,::1)
GUNICORN_ACCESS_LOG            "-" for an access log on stdout; off by default (the app logs each request)
GUNICORN_LOG_LEVEL             gunicorn's own log level (default info)
GUNICORN_CONTROL_SOCKET        path of gunicorn's control socket (for gunicornc); none by default

A delete may take up to BATCH_API_DEADLINE + BATCH_API_CONNECT_TIMEOUT seconds (33 by default): the
timeouts' defaults are above that, so a restart lets a delete in flight record its outcome.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import overload

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if (ROOT / ".env").is_file():
    import environ

    environ.Env.read_env(ROOT / ".env")  # like settings.py: variables already set win


@overload
def env(name: str, default: str) -> str: ...
@overload
def env(name: str, default: None = None) -> str | None: ...
def env(name: str, default: str | None = None) -> str | None:
    """The variable's value; unset or blank gives the default."""
    return os.environ.get(name, "").strip() or default


def _slowest_delete() -> float:
    try:
        return float(env("BATCH_API_DEADLINE", "30")) + float(env("BATCH_API_CONNECT_TIMEOUT", "3.05"))
    except ValueError:
        return 33.05


_default_timeout = max(60, math.ceil(_slowest_delete()) + 15)

bind = [address.strip() for address in env("GUNICORN_BIND", "0.0.0.0:8000").split(",") if address.strip()]  # noqa: S104
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = int(env("GUNICORN_WORKERS", "0")) or min(2 * _cores + 1, 8)
worker_class = "gthread"
threads = int(env("GUNICORN_THREADS", "4"))
timeout = int(env("GUNICORN_TIMEOUT", str(_default_timeout)))
graceful_timeout = int(env("GUNICORN_GRACEFUL_TIMEOUT", str(_default_timeout)))
keepalive = int(env("GUNICORN_KEEPALIVE", "5"))
forwarded_allow_ips = env("GUNICORN_FORWARDED_ALLOW_IPS", env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"))
accesslog = env("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = env("GUNICORN_LOG_LEVEL", "info")
proc_name = "audienceadmin"
wsgi_app = "audienceadmin.wsgi:application"
# gunicorn's runtime control socket (gunicornc) only where asked for: its default path is per user,
# so two instances on one host would share it.
if env("GUNICORN_CONTROL_SOCKET"):
    control_socket = env("GUNICORN_CONTROL_SOCKET")
else:
    control_socket_disable = True
# Heartbeat files in memory, not on a (possibly slow, container overlay) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

_debug = env("DJANGO_DEBUG", "false").lower() in ("1", "true", "yes", "on")
if env("DJANGO_LOG_FORMAT", "plain" if _debug else "json") == "json":
    # gunicorn's own lines (boot, worker restarts) in the same JSON as the application's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "audienceadmin.logs.JsonFormatter"}},
        "handlers": {
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "access": (
                {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
                if accesslog in (None, "-")
                else {"class": "logging.FileHandler", "formatter": "json", "filename": accesslog}
            ),
        },
        "root": {"level": "INFO", "handlers": ["error_console"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
            # gunicorn turns its access log on whenever logconfig_dict is set: keep it off unless asked for.
            "gunicorn.access": {
                "level": "INFO" if accesslog else "CRITICAL",
                "handlers": ["access"] if accesslog else [],
                "propagate": False,
            },
        },
    }


def on_starting(server) -> None:
    if timeout <= _slowest_delete() or graceful_timeout <= _slowest_delete():
        server.log.warning(
            "GUNICORN_TIMEOUT (%s) and GUNICORN_GRACEFUL_TIMEOUT (%s) should exceed BATCH_API_DEADLINE + "
            "BATCH_API_CONNECT_TIMEOUT (%.0f s): a restart could cut a delete short and leave its outcome unknown",
            timeout,
            graceful_timeout,
            _slowest_delete(),
        )


def post_worker_init(worker) -> None:
    """On SIGTERM (a stop or a restart), this worker starts no new call to Batch: the requests it has
    accepted and not yet begun answer 503 with nothing sent, while calls in flight finish and are
    recorded within GUNICORN_GRACEFUL_TIMEOUT."""
    import signal

    from audienceadmin.batch import refuse_new_calls

    graceful_exit = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame) -> None:
        refuse_new_calls()
        if callable(graceful_exit):
            graceful_exit(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
