"""The two-person rule's pages: the Requests list, a request (with Batch's preview then and now),
and its decisions: approve, reject, withdraw, break the glass. Every check is the services' too."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audienceadmin import reauth, roles, selectors, services, wording
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.models import BatchApp, DeletionRequest

State = DeletionRequest.State


def ask(
    request: AuthenticatedHttpRequest,
    app: BatchApp,
    audiences: list[str],
    reason: str,
    *,
    bulk: bool = False,
    preview: dict[str, Any] | None = None,
    attempt: uuid.UUID | None = None,
) -> HttpResponse:
    """The confirmation (single or bulk) in an app under the two-person rule: a request, then its page."""
    try:
        asked = services.deletion_request_create(
            actor=request.user, app=app, audiences=audiences, reason=reason, ip=client_ip(request), bulk=bulk,
            preview=preview, attempt=attempt,
        )  # fmt: skip
    except IntegrityError:  # the same confirmation page sent twice: asked once
        first = DeletionRequest.objects.filter(attempt=attempt).first() if attempt else None
        if first is None:
            raise
        messages.info(request, wording.request_waiting(first.pk, _hours(first)))
        return redirect("request_detail", first.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("bulk_new" if bulk else "audience_delete")
    messages.info(request, wording.request_waiting(asked.pk, _hours(asked)))
    return redirect("request_detail", asked.pk)


def _hours(asked: DeletionRequest) -> float:
    return round((asked.expires_at - asked.created_at).total_seconds() / 3600, 1)


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def request_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    visible = selectors.requests_for(user=request.user)
    context = {
        "awaiting": selectors.requests_awaiting(user=request.user),
        "mine": visible.filter(requested_by=request.user)[:50],
        "recent": visible[:100],
    }
    return render(request, "audienceadmin/request_list.html", context)


@require_GET
@permission_required(roles.DELETE_AUDIENCE)
def request_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    asked = get_object_or_404(selectors.requests_for(user=request.user), pk=pk)
    user = request.user
    pending = asked.state == State.PENDING
    fresh = None
    if pending and not asked.bulk:
        fresh = services.audience_preview(app=asked.app, name=asked.audiences[0])
    context = {
        "asked": asked,
        "events": selectors.request_events(asked),
        "fresh": fresh,
        "may_decide": pending and asked.requested_by_id != user.pk and selectors.may_approve_in(asked.app, user),
        "may_withdraw": pending and asked.requested_by_id == user.pk,
        "may_break_glass": pending and user.is_superuser,
        "own": asked.requested_by_id == user.pk,
    }
    context |= reauth.notice(request, reverse("request_detail", args=[asked.pk]))
    return render(request, "audienceadmin/request_detail.html", context)


def _decide(request: AuthenticatedHttpRequest, pk: int, step: str) -> HttpResponse:
    asked = get_object_or_404(selectors.requests_for(user=request.user), pk=pk)
    back = reverse("request_detail", args=[asked.pk])
    if step in ("approve", "break_glass") and not reauth.recent(request):
        messages.warning(request, wording.REAUTH_DECISION)
        return reauth.refuse(request, back)
    ip, text = client_ip(request), request.POST.get("comment", "")
    try:
        if step == "approve":
            done = services.request_approve(actor=request.user, request=asked, ip=ip, comment=text)
        elif step == "reject":
            done = services.request_reject(actor=request.user, request=asked, ip=ip, comment=text)
        elif step == "withdraw":
            done = services.request_withdraw(actor=request.user, request=asked, ip=ip)
        else:
            done = services.request_break_glass(actor=request.user, request=asked, ip=ip, reason=text)
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc) or wording.MAY_NOT_APPROVE
        messages.error(request, text)
        return redirect(back)
    level = messages.SUCCESS if done.outcome in ("", "deleted") else messages.WARNING
    messages.add_message(request, level, f"Request {done.pk}: {done.get_state_display()}.")
    return redirect(back)


@require_POST
@permission_required(roles.APPROVE_DELETION)
def request_approve(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@permission_required(roles.APPROVE_DELETION)
def request_reject(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@permission_required(roles.DELETE_AUDIENCE)
def request_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "withdraw")


@require_POST
@permission_required(roles.DELETE_AUDIENCE)
def request_break_glass(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "break_glass")
