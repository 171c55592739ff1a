"""The sign-in pages that are ours, beside allauth's: re-doing SSO to re-authenticate, and the
allauth pages this dashboard does not offer (sign-up, e-mail management, public password reset...)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audienceadmin import selectors, wording
from audienceadmin.access import AuthenticatedHttpRequest


@login_not_required
def closed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """People are invited (with a set-password link) or come through SSO; their e-mail is the IdP's
    or the administrator's to change."""
    raise Http404("This page is not offered")


@require_GET
def reauthenticate_sso(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Someone who signed in through SSO confirms it is them by signing in at the IdP again (asked to
    prompt for the login); allauth records it, then sends them back to ``next``."""
    if not (selectors.sso_enabled() and selectors.person_uses_sso(request.user)):
        raise Http404("Single sign-on is not set up for this account")
    context = {"next": request.GET.get("next", ""), "sso_again": wording.sso_again(settings.OIDC_COMPANY_NAME)}
    return render(request, "account/reauthenticate_sso.html", context)
