"""`make demo`: the dashboard against the bundled Batch simulator, with demo users, apps and audiences.

Secrets are generated here, at run time: the demo app's keys (stored encrypted, and registered in
the in-memory simulator) and the demo users' passwords (printed, never written to a file).

The dashboard runs as in production (``DJANGO_DEBUG`` off: the styled error pages, never Django's
debug page and its list of URLs; static files collected and served by WhiteNoise), over plain HTTP on
the loopback, with logs for people. Its database (``demo.sqlite3``) outlives a restart while the
simulator does not: the audiences the history says were deleted are left out of the simulator again,
so nothing deleted comes back.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from audienceadmin import roles, selectors, services
from audienceadmin.batch.simulator import BatchSimulator
from audienceadmin.management.commands.serve import serve

DEMO_APP = "Demo shop (simulator)"
WRONG_KEY_APP = "Demo app with a revoked key"
DEMO_PROJECT = "Demo CEP project (simulator)"
PROJECT_INDEXING_DELAY = 5.0  # seconds before Batch applies a removal: the follow-up shows it happen
# The MEP app's Custom Audience API 1.0 audiences (custom user IDs, advertising IDs); "beta-testers" is
# in 1.1 too, so its confirmation page asks which version to delete it from.
AUDIENCES_1_0: list[dict[str, Any]] = [
    {"name": "crm-loyalty-members", "nb_ids": 4200, "type": "custom_ids", "version": "1.0"},
    {"name": "gaid-lookalikes", "nb_ids": 77000, "type": "advertising_ids", "version": "1.0"},
    {"name": "beta-testers", "nb_ids": 41, "type": "custom_ids", "version": "1.0"},
]
PROJECT_AUDIENCES: list[dict[str, Any]] = [
    {"name": "cep-winback-2025", "nb_ids": 8800, "display_name": "Win-back 2025"},
    {"name": "cep-cart-abandoners", "nb_ids": 15300, "display_name": "Cart abandoners"},
    {"name": "cep-old-import", "nb_ids": 12, "display_name": "Old CSV import"},
    *({"name": f"cep-segment-{n:02d}", "nb_ids": 50 * n, "display_name": "Old segment"} for n in range(1, 21)),
]
DEMO_USERS = [
    ("operator", roles.OPERATORS),
    ("keyadmin", roles.KEY_ADMINISTRATORS),
    ("viewer", roles.VIEWERS),
    ("useradmin", roles.USER_ADMINISTRATORS),
    ("mfa-operator", roles.OPERATORS),  # signs in with a password and a TOTP code
    ("second-operator", roles.OPERATORS),  # asks for a deletion in the two-person app (approve it as operator)
]
# The two-person rule (issue 16): an app whose every deletion waits for a second operator, with a
# request from second-operator waiting (operator sees it on the home page and the Requests page).
APPROVAL_APP = "Demo shop EU (two-person rule)"
APPROVAL_REQUESTER = "second-operator"
APPROVAL_AUDIENCE = "eu-winter-promo"
TOTP_USER = "mfa-operator"
AUDIENCES: list[dict[str, Any]] = [
    {"name": "spring-sale-2025", "nb_ids": 18250, "description": "Spring sale buyers"},
    {"name": "churned_users_q3", "nb_ids": 5120, "description": "No session since Q3"},
    {"name": "beta-testers", "nb_ids": 312, "description": "Beta programme"},
    {"name": "newsletter_optin", "nb_ids": 90211, "description": "Newsletter opt-ins"},
    {"name": "vip-customers", "nb_ids": 1404, "description": "VIP tier"},
    {"name": "test_audience_old", "nb_ids": 3, "description": "Left over from a test"},
    # Stale ones, for the browser's pages and for bulk deletion.
    *({"name": f"campaign-2024-{n:02d}", "nb_ids": 100 * n, "description": "Old campaign"} for n in range(1, 61)),
]
# Audiences whose deletion shows how failures look (see the README's failure table). Each fault
# answers the DELETE only: the confirmation page's preview (a GET) sees the audience as it is, and the
# delete then shows the fault, its retries included.
FAULTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "demo-maintenance",
        "Batch answers 503 MAINTENANCE_ERROR every time",
        {"action": "error", "error": "MAINTENANCE_ERROR"},
    ),
    ("demo-timeout", "Batch never answers: the outcome is unknown", {"action": "timeout"}),
    ("demo-dropped", "the connection drops after the request is sent", {"action": "drop"}),
    (
        "demo-rate-limited",
        "429 with Retry-After: 2 once, then deleted",
        {"action": "error", "error": "TOO_MANY_REQUESTS", "retry_after": "2", "times": 1},
    ),
    (
        "demo-flaky",
        "500 twice, then deleted on the third try",
        {"action": "error", "error": "SERVER_ERROR", "times": 2},
    ),
    ("demo-forbidden", "403 API_MISUSE", {"action": "error", "error": "API_MISUSE"}),
]


def _random_key(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


class Command(BaseCommand):
    help = "Run the dashboard against the bundled Batch simulator with demo data (used by `make demo`)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the dashboard listens")
        parser.add_argument("--simulator-port", type=int, default=8001)
        parser.add_argument("--no-serve", action="store_true", help="prepare the data, start nothing")

    def handle(self, *args, addr: str, simulator_port: int, no_serve: bool, **options) -> None:
        passwords = self._users()
        totp_secret = self._totp(TOTP_USER)
        simulator = BatchSimulator(port=simulator_port)
        apps, kept_deleted = self._apps(simulator)
        apps.append(self._approval_app(simulator))
        if no_serve:
            return
        simulator.start()
        env = demo_environment(simulator.url)
        self._collect_static(env)
        self._print(addr, simulator.url, passwords, apps, totp_secret, kept_deleted)
        try:
            serve(addr, env=env, reload=False)
        finally:
            simulator.stop()

    def _collect_static(self, env: dict[str, str]) -> None:
        """With debug off, WhiteNoise serves the collected (hashed) static files, as in production."""
        subprocess.run(  # noqa: S603 - this interpreter, this project's manage.py
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "collectstatic", "--no-input", "-v0"],
            env={**os.environ, **env},
            check=True,
        )

    def _users(self) -> dict[str, str]:
        User = get_user_model()
        passwords = {}
        admin = User.objects.filter(username="admin").first() or User.objects.create_superuser("admin", "", None)
        for user, group in [(admin, None)] + [
            (User.objects.get_or_create(username=name)[0], Group.objects.get(name=group_name))
            for name, group_name in DEMO_USERS
        ]:
            passwords[user.username] = secrets.token_urlsafe(9)
            user.set_password(passwords[user.username])
            user.save()
            if group is not None:
                user.groups.set([group])
        return passwords

    def _totp(self, username: str) -> str:
        """A fresh TOTP secret for this user (each start, like the passwords), enrolled with allauth."""
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

        user = get_user_model().objects.get(username=username)
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        return secret

    def _apps(self, simulator: BatchSimulator) -> tuple[list[str], list[str]]:
        """The demo apps, in the database and in the simulator; returns their names and the audiences
        left out because the history says an earlier run deleted them."""
        admin = get_user_model().objects.get(username="admin")
        shown: list[str] = []
        kept_deleted: list[str] = []
        for name, registered_rest_key in [(DEMO_APP, None), (WRONG_KEY_APP, _random_key("revoked-"))]:
            app = selectors.app_by_name(name)
            if app is None:
                app = services.app_create(
                    actor=admin, name=name, api_key=_random_key("DEMO"), rest_api_key=_random_key("demo-rest-"), ip=None
                )
            credentials = services.app_credentials(app)  # the simulator stands in for Batch: it needs them in clear
            api_key = credentials.api_key.reveal()
            deleted = selectors.audiences_deleted(app=app)
            audiences = [
                a
                for a in AUDIENCES + [{"name": audience, "description": what} for audience, what, _ in FAULTS]
                if a["name"] not in deleted
            ]
            audiences += [a for a in AUDIENCES_1_0 if a["name"] not in deleted]
            simulator.add_app(api_key, registered_rest_key or credentials.rest_api_key.reveal(), audiences)
            for audience, _, fault in FAULTS:
                simulator.add_fault(api_key=api_key, audience=audience, method="DELETE", **fault)
            shown.append(name)
            kept_deleted += sorted(deleted)
        shown.append(self._project(simulator, admin, kept_deleted))
        return shown, kept_deleted

    def _project(self, simulator: BatchSimulator, admin: Any, kept_deleted: list[str]) -> str:
        """The CEP project: its audiences, the same failing cases (on its remove), removals applied
        after a few seconds."""
        app = selectors.app_by_name(DEMO_PROJECT)
        if app is None:
            app = services.app_create(
                actor=admin,
                name=DEMO_PROJECT,
                kind="cep",
                api_key="project_" + secrets.token_hex(16),
                rest_api_key=_random_key("demo-cep-rest-"),
                ip=None,
            )
        credentials = services.app_credentials(app)
        project_key = credentials.api_key.reveal()
        deleted = selectors.audiences_deleted(app=app)
        audiences = [
            a
            for a in PROJECT_AUDIENCES + [{"name": audience, "display_name": what} for audience, what, _ in FAULTS]
            if a["name"] not in deleted
        ]
        simulator.add_project(
            project_key, credentials.rest_api_key.reveal(), audiences, indexing_delay=PROJECT_INDEXING_DELAY
        )
        for audience, _, fault in FAULTS:
            simulator.add_fault(project_key=project_key, audience=audience, method="POST", **fault)
        kept_deleted += sorted(deleted)
        return DEMO_PROJECT

    def _approval_app(self, simulator: BatchSimulator) -> str:
        """The app under the two-person rule, with a pending request from another demo user."""
        from audienceadmin.models import BatchApp, DeletionRequest

        admin = get_user_model().objects.get(username="admin")
        app = selectors.app_by_name(APPROVAL_APP) or services.app_create(
            actor=admin,
            name=APPROVAL_APP,
            api_key=_random_key("DEMOEU"),
            rest_api_key=_random_key("demo-eu-rest-"),
            ip=None,
            approval_policy=BatchApp.ApprovalPolicy.SECOND_PERSON,
        )
        credentials = services.app_credentials(app)
        deleted = selectors.audiences_deleted(app=app)
        audiences = [{"name": APPROVAL_AUDIENCE, "nb_ids": 4200, "description": "Winter promo, EU"}, *AUDIENCES[:6]]
        simulator.add_app(
            credentials.api_key.reveal(),
            credentials.rest_api_key.reveal(),
            [a for a in audiences if a["name"] not in deleted],
        )
        services.requests_expire()
        if app.needs_approval and APPROVAL_AUDIENCE not in deleted:
            waiting = DeletionRequest.objects.filter(app=app, state=DeletionRequest.State.PENDING).exists()
            if not waiting:
                services.deletion_request_create(
                    actor=get_user_model().objects.get(username=APPROVAL_REQUESTER),
                    app=app,
                    audiences=[APPROVAL_AUDIENCE],
                    reason="The EU winter promo ended last week; its audience is no longer targeted.",
                    ip=None,
                    preview={"exists": True, "nb_ids": 4200, "type": "install_ids", "api": "mep", "version": "1.1"},
                )
        return APPROVAL_APP

    def _print(
        self,
        addr: str,
        simulator_url: str,
        passwords: dict[str, str],
        apps: list[str],
        totp_secret: str,
        kept_deleted: list[str],
    ) -> None:
        line = self.style.SUCCESS
        self.stdout.write(line(f"\nAudience Admin demo on http://{addr}/  (Batch simulator on {simulator_url})"))
        self.stdout.write("Log in as (fresh passwords each start):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<12} {password}")
        self.stdout.write(
            f"{TOTP_USER} also needs a code from an authenticator app: add the secret {totp_secret}\n"
            f"  (or run: oathtool --totp -b {totp_secret})"
        )
        self.stdout.write(f"Apps: {', '.join(apps)} (every delete in the second one is refused: 401)")
        self.stdout.write(
            "  MEP: 1.0 audiences too (" + ", ".join(a["name"] for a in AUDIENCES_1_0) + "; beta-testers is in both)"
        )
        self.stdout.write(
            f"  CEP: Batch applies a removal {PROJECT_INDEXING_DELAY:g} s after accepting it: the attempt's page "
            'then says "removal applied at …"'
        )
        self.stdout.write("Audiences to delete: " + _short_list([a["name"] for a in AUDIENCES]))
        if kept_deleted:
            self.stdout.write(
                f"Deleted in an earlier run, so not in Batch any more ({len(kept_deleted)}): "
                + _short_list(kept_deleted)
                + "\n  (remove demo.sqlite3 to start again from nothing)"
            )
        self.stdout.write("Audiences that show failures:")
        for audience, what, _ in FAULTS:
            self.stdout.write(f"  {audience:<18} {what}")
        self.stdout.write(f"{APPROVAL_APP}: every deletion waits for a second operator's approval.")
        self.stdout.write(
            f"  {APPROVAL_REQUESTER} asked to delete {APPROVAL_AUDIENCE}: approve or reject it as operator (Requests)."
        )
        self.stdout.write("  Notification e-mails print in this terminal.")
        self.stdout.write("Bulk delete runs in a background worker started alongside.")
        self.stdout.write("Ctrl-C stops the dashboard, the worker and the simulator.\n")


def demo_environment(simulator_url: str) -> dict[str, str]:
    """The dashboard's and worker's settings in the demo: production's, but for plain HTTP on the
    loopback, the simulator as Batch, short timeouts, console e-mail and logs for people."""
    return {
        "BATCH_API_URL": simulator_url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_LOG_FORMAT": "plain",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": "true",
        # As before: people sign in with a password; MFA_REQUIRED=true make demo shows enrolment.
        "MFA_REQUIRED": os.environ.get("MFA_REQUIRED", "false"),
        "BATCH_API_TIMEOUT": os.environ.get("BATCH_API_TIMEOUT", "5"),
        "BATCH_API_DEADLINE": os.environ.get("BATCH_API_DEADLINE", "20"),
    }


def _short_list(names: list[str], most: int = 8) -> str:
    """A list that fits a terminal line: the first few names, then how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
