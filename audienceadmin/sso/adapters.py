"""allauth's adapters: who may sign in and how. The audit events are written by the services
(``services.sign_in_refused`` ...), called from here or from ``audienceadmin.signals``."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse

from audienceadmin import fields, selectors, services, wording
from audienceadmin.access import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False  # people are invited from the People page, or come through SSO

    def get_reauthentication_methods(self, user: AbstractBaseUser | AnonymousUser) -> list[dict]:
        """allauth offers the password and MFA; people who sign in through SSO re-do SSO."""
        methods = super().get_reauthentication_methods(user)
        if user.is_authenticated and selectors.sso_enabled() and selectors.person_uses_sso(user):
            methods.append(
                {
                    "id": "sso",
                    "description": wording.sso_again(settings.OIDC_COMPANY_NAME),
                    "url": reverse("reauthenticate_sso"),
                }
            )
        return methods


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True  # the first SSO sign-in creates the user, with no role

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Only the company's e-mail domains get in; everyone else is refused (and audited)."""
        email = selectors.sso_login_email(sociallogin)
        if not selectors.sso_domain_allowed(email):
            services.sign_in_refused(
                username=email or sociallogin.account.uid,
                ip=client_ip(request),
                message=wording.SSO_DOMAIN_REFUSED_AUDIT,
            )
            response = render(request, "account/sso_refused.html", {"reason": wording.sso_domain_refused()}, status=403)
            raise ImmediateHttpResponse(response)

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        if user.email:
            user.username = user.email.lower()  # readable in the audit, and unique at the IdP
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: BaseException | None = None,
        extra_context: Any = None,
    ) -> None:
        """A failed SSO round trip (a refused or tampered token, the IdP said no): audited, by kind only."""
        services.sign_in_refused(
            username="",
            ip=client_ip(request),
            message=wording.sso_error_audit(str(error or "unknown"), type(exception).__name__ if exception else ""),
        )


class MfaAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are encrypted like the Batch keys (FIELD_ENCRYPTION_KEYS,
    so ``rotate_encryption_keys``' key list applies): a database dump alone gives no second factor."""

    def encrypt(self, text: str) -> str:
        return fields.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return fields.decrypt(encrypted_text)
