from django.apps import AppConfig


class AudienceAdminConfig(AppConfig):
    name = "audienceadmin"
    verbose_name = "Audience Admin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audienceadmin import checks, signals  # noqa: F401  (registers checks and receivers)
