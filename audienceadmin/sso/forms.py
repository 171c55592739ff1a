"""allauth's login form, with one rule: when local password sign-in is off, only superusers (the
break-glass account) may use it. The check comes after ``authenticate()``, so the lockout still counts
every wrong password, whoever tries."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django import forms
from django.conf import settings

from audienceadmin import services, wording
from audienceadmin.access import client_ip


class DashboardLoginForm(LoginForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = ""  # no public reset: an administrator sends a new link

    def clean(self) -> dict[str, Any]:
        try:
            cleaned: dict[str, Any] = super().clean()
        except forms.ValidationError as refused:
            if self._one_try_left():
                raise forms.ValidationError(
                    [*refused.error_list, forms.ValidationError(wording.last_try_before_lockout(get_cool_off()))]
                ) from None
            raise
        user = getattr(self, "user", None)
        if user is not None and not settings.LOCAL_PASSWORD_LOGIN and not user.is_superuser:
            services.sign_in_refused(
                username=user.get_username(), ip=client_ip(self.request), message=wording.LOCAL_LOGIN_OFF_AUDIT
            )
            raise forms.ValidationError(wording.local_login_off(settings.OIDC_COMPANY_NAME))
        return cleaned

    def _one_try_left(self) -> bool:
        """The wrong password just typed leaves one before django-axes locks this username from this
        address, or this address (each counted against AXES_FAILURE_LIMIT; the larger count decides)."""
        login = str(self.cleaned_data.get("login") or "")
        failures = AxesProxyHandler.get_failures(self.request, {"username": login})
        return failures == settings.AXES_FAILURE_LIMIT - 1
