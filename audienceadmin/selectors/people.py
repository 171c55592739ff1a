"""Who the people are: their roles, how they sign in, their MFA, lockouts; single sign-on's rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Group
from django.db.models import QuerySet
from django.utils import timezone

from audienceadmin import roles
from audienceadmin.sso.config import PROVIDER_ID

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin
    from django.contrib.auth.models import User

MFA_LABELS: dict[str, str] = {
    Authenticator.Type.TOTP: "authenticator app",
    Authenticator.Type.WEBAUTHN: "security key",
    Authenticator.Type.RECOVERY_CODES: "recovery codes",
}


@dataclass(frozen=True)
class PersonRow:
    user: User
    roles: list[str]
    mfa: list[str]
    sso: bool
    local: bool
    locked_out: bool

    @property
    def sign_in(self) -> str:
        return " and ".join(w for w, on in (("SSO", self.sso), ("password", self.local)) if on) or "none yet"


def sso_enabled() -> bool:
    return bool(settings.OIDC_ISSUER_URL and settings.OIDC_CLIENT_ID)


def person_uses_sso(user: AbstractBaseUser | AnonymousUser) -> bool:
    if user.pk is None:
        return False
    return bool(SocialAccount.objects.filter(user_id=user.pk, provider=PROVIDER_ID).exists())


def sso_login_email(sociallogin: SocialLogin) -> str:
    email = getattr(sociallogin.user, "email", "") or next((e.email for e in sociallogin.email_addresses), "")
    return str(email or "").strip().lower()


def sso_domain_allowed(email: str) -> bool:
    """Only addresses in OIDC_ALLOWED_DOMAINS (a check refuses SSO configured without any)."""
    local, _, domain = email.rpartition("@")
    return bool(local) and domain in settings.OIDC_ALLOWED_DOMAINS


def sso_claims(sociallogin: SocialLogin) -> dict[str, Any]:
    """The verified ID token's claims (``fetch_userinfo`` is off: the signed token is the source)."""
    data = sociallogin.account.extra_data or {}
    return data.get("id_token") or data.get("userinfo") or data


def roles_for_groups(groups: Any) -> set[str]:
    """The roles OIDC_GROUP_ROLES gives to these IdP groups (a claim may be a list or one string)."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return set()
    mapping = settings.OIDC_GROUP_ROLES
    return {mapping[g] for g in groups if isinstance(g, str) and g in mapping and mapping[g] in roles.ROLES}


def role_names(user: AbstractBaseUser) -> list[str]:
    return sorted(Group.objects.filter(user__pk=user.pk, name__in=roles.ROLES).values_list("name", flat=True))


def role_groups(names: set[str] | list[str]) -> QuerySet[Group]:
    return Group.objects.filter(name__in=names)


def mfa_types(user: AbstractBaseUser) -> list[str]:
    return sorted(set(Authenticator.objects.filter(user_id=user.pk).values_list("type", flat=True)))


def mfa_required_for(user: AbstractBaseUser | AnonymousUser) -> bool:
    """MFA_REQUIRED and a role that needs it (or a superuser)."""
    if not settings.MFA_REQUIRED or not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Group.objects.filter(user__pk=user.pk, name__in=roles.MFA_REQUIRED_ROLES).exists()


def has_mfa(user: AbstractBaseUser) -> bool:
    return Authenticator.objects.filter(user_id=user.pk).exclude(type=Authenticator.Type.RECOVERY_CODES).exists()


def _lockout_since() -> datetime:
    return timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)


def locked_out_usernames() -> set[str]:
    """Usernames with a lockout in force (from any address)."""
    attempts = AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=_lockout_since()
    )
    return {str(username) for username in attempts.values_list("username", flat=True)}


def people_list() -> list[PersonRow]:
    """Everyone, active first, with their roles, sign-in ways, MFA and lockout (a few queries, not one a row)."""
    from django.contrib.auth import get_user_model

    users = list(get_user_model().objects.order_by("-is_active", "username").prefetch_related("groups"))
    sso = set(SocialAccount.objects.filter(provider=PROVIDER_ID).values_list("user_id", flat=True))
    mfa: dict[int, set[str]] = {}
    for user_id, kind in Authenticator.objects.values_list("user_id", "type"):
        mfa.setdefault(user_id, set()).add(MFA_LABELS.get(kind) or str(kind))
    locked = locked_out_usernames()
    return [
        PersonRow(
            user=u,
            roles=sorted(g.name for g in u.groups.all() if g.name in roles.ROLES),
            mfa=sorted(mfa.get(u.pk, set())),
            sso=u.pk in sso,
            local=u.has_usable_password(),
            locked_out=u.username in locked,
        )
        for u in users
    ]


def person_by_id(pk: int) -> User:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=pk)


def username_taken(username: str) -> bool:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username__iexact=username).exists()


def email_taken(email: str) -> bool:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(email__iexact=email).exists()
