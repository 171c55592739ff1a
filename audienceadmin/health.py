"""Health checks for load balancers and orchestrators: no login, no secrets, no version, plain text.

``/healthz``: the process answers (liveness); touches nothing else.
``/readyz``: the database answers and takes a write, and every migration this code knows is applied
(readiness). An instance running newer code than the database's schema stays out of rotation until
``manage.py migrate`` has run. Once the migrations are seen applied, that answer is kept for the
life of the process (a migration cannot un-apply itself), so a probe costs one small ``UPDATE``.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from audienceadmin.dbclock import DbNow
from audienceadmin.models import ReadinessProbe

logger = logging.getLogger(__name__)
_migrations_applied = False


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def database_writable(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """The database answers and takes a write (one small row, rewritten): a full disk or a read-only
    database makes every delete fail, so the instance is not ready."""
    try:
        with transaction.atomic(using=alias):
            probe = ReadinessProbe.objects.using(alias)
            if not probe.filter(pk=1).update(probed_at=DbNow()):
                probe.get_or_create(pk=1, defaults={"probed_at": timezone.now()})
    except DatabaseError as exc:
        logger.warning("readiness: the database takes no write (%s)", type(exc).__name__)
        return False
    return True


def migrations_pending(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """True while a migration of this code is not applied to the database (cached once False)."""
    global _migrations_applied
    if _migrations_applied:
        return False
    executor = MigrationExecutor(connections[alias])
    pending = bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrations_applied = not pending
    return pending


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return _text("ok")


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    try:
        pending = migrations_pending()
    except DatabaseError as exc:
        logger.warning("readiness: cannot read the migration state (%s)", type(exc).__name__)
        return _text("database unavailable", 503)
    if pending:
        return _text("migrations pending", 503)
    if not database_writable():
        return _text("database takes no writes", 503)
    return _text("ready")
