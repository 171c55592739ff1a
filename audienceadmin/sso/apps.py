from django.apps import AppConfig


class SsoConfig(AppConfig):
    """A Django app only so that allauth's provider registry finds ``audienceadmin.sso.provider``."""

    name = "audienceadmin.sso"
    label = "audienceadmin_sso"
    verbose_name = "Single sign-on"
