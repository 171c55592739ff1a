"""Deleting one audience: pick an app and a name, confirm on a page that shows Batch's impact
preview, then the service deletes and audits; the operator lands on the history with a message."""

from __future__ import annotations

import logging
import uuid

from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from audienceadmin import batch, confirmation, reauth, roles, selectors, services, wording
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.forms import ConfirmDeleteForm, DeleteAudienceForm
from audienceadmin.models import AuditEvent, BatchApp
from audienceadmin.views import approvals

# The logger's name is what log filters and alerts know: it stays that of the module before the split.
logger = logging.getLogger("audienceadmin.views")
OUTCOME_LEVEL: dict[str, int] = {
    AuditEvent.Outcome.DELETED: messages.SUCCESS,
    AuditEvent.Outcome.REJECTED: messages.ERROR,
    AuditEvent.Outcome.FAILED: messages.ERROR,
    AuditEvent.Outcome.UNKNOWN: messages.WARNING,
    AuditEvent.Outcome.NOT_SENT: messages.WARNING,
}


@require_http_methods(["GET", "POST"])
@permission_required(roles.DELETE_AUDIENCE)
def audience_delete(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 1: pick an app and a name. A valid POST (or a GET from the audience browser's
    "Delete…" link, with app and name) shows the confirmation page (step 2)."""
    apps = selectors.apps_for_delete(user=request.user)
    data = request.POST if request.method == "POST" else (request.GET if "name" in request.GET else None)
    form = DeleteAudienceForm(data, apps=apps)
    if data is not None and form.is_valid():
        kept = reauth.kept(request, request.GET.get("kept"))  # back from re-authenticating
        confirm = ConfirmDeleteForm(kept, apps=apps) if kept is not None else None
        return _confirmation(request, form.cleaned_data["app"], form.cleaned_data["name"], form=confirm)
    return render(request, "audienceadmin/delete_form.html", {"form": form, "apps": apps}, status=200)


def _confirmation(
    request: AuthenticatedHttpRequest,
    app: BatchApp,
    name: str,
    form: ConfirmDeleteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The confirmation page, with Batch's impact preview and the ticket its form must send back."""
    preview = services.audience_preview(app=app, name=name)
    ticket = confirmation.ticket_issue(user_id=request.user.pk, app_id=app.pk, audience=name,
                                       preview=preview.as_details())  # fmt: skip
    if form is None:
        initial = {"app": app, "name": name, "api_version": preview.version or "1.1"}
        form = ConfirmDeleteForm(initial=initial, apps=selectors.apps_for_delete(user=request.user))
    context = {
        "form": form,
        "app": app,
        "name": name,
        "preview": preview,
        "ticket": ticket,
        "may_fix_keys": request.user.has_perm(roles.CHANGE_APP),
    }
    context |= reauth.notice(request, _back(app, name))
    return render(request, "audienceadmin/delete_confirm.html", context, status=status)


def _back(app: BatchApp, name: str, kept: str = "") -> str:
    """The confirmation page again, as a GET (where re-authentication returns)."""
    query = {"app": str(app.pk), "name": name} | ({"kept": kept} if kept else {})
    return f"{reverse('audience_delete')}?{urlencode(query)}"


@require_POST
@permission_required(roles.DELETE_AUDIENCE)
def audience_delete_confirm(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 3: the name was typed again, with the page's ticket; call Batch, say what happened, redirect.
    A sign-in older than REAUTHENTICATION_MINUTES deletes nothing: re-authenticate, back to the confirmation."""
    if batch.shutting_down():  # SIGTERM: calls in flight finish, none starts
        response = render(request, "audienceadmin/shutting_down.html", status=503)
        response["Retry-After"] = "10"
        return response
    form = ConfirmDeleteForm(request.POST, apps=selectors.apps_for_delete(user=request.user))
    if not reauth.recent(request) and form.is_valid():
        kept = reauth.keep(request, request.POST, ["app", "name", "confirm_name", "api_version"])
        messages.warning(request, wording.REAUTH_KEPT)
        return reauth.refuse(request, _back(form.cleaned_data["app"], form.cleaned_data["name"], kept))
    if not form.is_valid():
        if "app" in form.errors or "name" in form.errors:
            messages.error(request, wording.CONFIRMATION_INVALID)
            return redirect("audience_delete")
        return _confirmation(request, form.cleaned_data["app"], form.cleaned_data["name"], form=form, status=400)
    app, name = form.cleaned_data["app"], form.cleaned_data["name"]
    try:
        ticket = confirmation.ticket_read(form.cleaned_data["ticket"], user_id=request.user.pk, app_id=app.pk,
                                          audience=name)  # fmt: skip
    except confirmation.TicketExpired:
        messages.warning(request, wording.CONFIRMATION_EXPIRED)
        return _confirmation(request, app, name, status=400)
    except confirmation.TicketInvalid:
        messages.error(request, wording.CONFIRMATION_INVALID)
        return redirect("audience_delete")
    version = services.delete_version(preview=ticket.preview, chosen=form.cleaned_data["api_version"])
    if app.needs_approval:  # the two-person rule: a request, not a call to Batch; sent later to this version
        preview = ticket.preview | ({"delete_version": version} if version else {})
        return approvals.ask(request, app, [name], form.cleaned_data["reason"], preview=preview,
                             attempt=ticket.attempt)  # fmt: skip
    try:
        result = services.audience_delete(
            actor=request.user,
            app=app,
            name=name,
            ip=client_ip(request),
            details={"preview": ticket.preview},
            attempt=ticket.attempt,
            api_version=version,
        )
    except services.AttemptAlreadyMade as exc:
        return _already_made(request, exc.attempt)
    except DatabaseError:
        logger.exception("Could not record a deletion request; nothing was sent to Batch")
        return render(request, "audienceadmin/audit_unavailable.html", form.cleaned_data, status=503)
    services.all_audiences_forget(app=app)  # the browser's search reads the list again
    messages.add_message(request, OUTCOME_LEVEL[result.outcome], result.message)
    return redirect("history")


def _already_made(request: AuthenticatedHttpRequest, attempt: uuid.UUID) -> HttpResponse:
    """The same ticket again: nothing is sent; the operator is shown the first submission's attempt."""
    events = selectors.attempt_events(attempt)
    completed = events.get(AuditEvent.Kind.DELETE_COMPLETED)
    messages.info(request, wording.attempt_already_made(completed.get_outcome_display() if completed else ""))
    return redirect("history_event", events[AuditEvent.Kind.DELETE_REQUESTED].pk)
