"""People & roles (superusers and user administrators): the list, inviting, roles, deactivating,
lifting a lockout. Each change is audited by its service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audienceadmin import reauth, roles, selectors, services, wording
from audienceadmin.access import AuthenticatedHttpRequest, client_ip, permission_required
from audienceadmin.forms import InviteForm, PersonRolesForm

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _initial(kept: QueryDict | None) -> dict[str, object] | None:
    """A form's initial values from what was kept across re-authentication."""
    if kept is None:
        return None
    return {field: kept.getlist(field) if field == "role_names" else kept.get(field, "") for field in kept}


# Superusers (who hold every permission) and user administrators; refusals are audited.
people_admin_required = permission_required(roles.MANAGE_PEOPLE)


def _person(pk: int) -> User:
    try:
        return selectors.person_by_id(pk)
    except ObjectDoesNotExist:
        raise Http404("No such person") from None


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _stale(request: AuthenticatedHttpRequest, back: str, fields: list[str]) -> HttpResponse | None:
    """Who may do what is changed only after a recent sign-in (REAUTHENTICATION_MINUTES): otherwise
    nothing changes; re-authenticate, then back to ``back`` with what was typed (``fields``)."""
    if reauth.recent(request):
        return None
    messages.warning(request, wording.REAUTH_KEPT)
    if fields:
        back = f"{back}?kept={reauth.keep(request, request.POST, fields)}"
    return reauth.refuse(request, back)


def _page(
    request: AuthenticatedHttpRequest, template: str, context: dict[str, object], status: int = 200
) -> HttpResponse:
    return render(request, template, context | reauth.notice(request, request.path), status=status)


@require_GET
@people_admin_required
def people(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "audienceadmin/people/list.html", {"people": selectors.people_list()})


@require_http_methods(["GET", "POST"])
@people_admin_required
def person_invite(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST" and (stale := _stale(request, request.path, ["username", "email", "role_names"])):
        return stale
    kept = reauth.kept(request, request.GET.get("kept"))
    form = InviteForm(request.POST or None, initial=_initial(kept))
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_invite(
                actor=request.user, base_url=_base_url(request), ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, wording.invited(person.email))
            return redirect("people")
    return _page(request, "audienceadmin/people/invite.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@people_admin_required
def person_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    if request.method == "POST" and (stale := _stale(request, request.path, ["role_names"])):
        return stale
    kept = reauth.kept(request, request.GET.get("kept"))
    form = PersonRolesForm(request.POST or None, initial=_initial(kept) or {"role_names": selectors.role_names(person)})
    if request.method == "POST" and form.is_valid():
        services.person_roles_set(actor=request.user, person=person, ip=client_ip(request), **form.cleaned_data)
        messages.success(request, wording.person_saved(person.get_username()))
        return redirect("people")
    context = {
        "person": person,
        "form": form,
        "sso": selectors.person_uses_sso(person),
        "idp_roles": bool(selectors.sso_enabled() and selectors.person_uses_sso(person)),
        "mfa": selectors.mfa_types(person),
        "locked_out": person.get_username() in selectors.locked_out_usernames(),
    }
    return _page(request, "audienceadmin/people/edit.html", context)


@require_POST
@people_admin_required
def person_deactivate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    if stale := _stale(request, reverse("person_edit", args=[person.pk]), []):
        return stale
    if person.is_superuser and not request.user.is_superuser:
        raise PermissionDenied  # a user administrator cannot lock a superuser out
    try:
        services.person_deactivate(actor=request.user, person=person, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, wording.person_deactivated(person.get_username()))
    return redirect("person_edit", person.pk)


@require_POST
@people_admin_required
def person_reactivate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    if stale := _stale(request, reverse("person_edit", args=[person.pk]), []):
        return stale
    services.person_reactivate(actor=request.user, person=person, ip=client_ip(request))
    messages.success(request, wording.person_reactivated(person.get_username()))
    return redirect("person_edit", person.pk)


@require_POST
@people_admin_required
def person_unlock(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    if stale := _stale(request, reverse("person_edit", args=[person.pk]), []):
        return stale
    count = services.lockout_clear(actor=request.user, person=person, ip=client_ip(request))
    messages.success(request, wording.lockout_cleared(person.get_username(), count))
    return redirect("person_edit", person.pk)


@require_POST
@people_admin_required
def person_invite_again(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    if stale := _stale(request, reverse("person_edit", args=[person.pk]), []):
        return stale
    if not person.email or (person.is_superuser and not request.user.is_superuser):
        raise PermissionDenied  # no address to send to; or a user administrator taking over a superuser
    services.person_invite_again(actor=request.user, person=person, base_url=_base_url(request), ip=client_ip(request))
    messages.success(request, wording.invited(person.email))
    return redirect("person_edit", person.pk)
