"""Settings: every knob is an environment variable (a `.env` file at the root is read if present).

The README's configuration table lists each variable; `.env.example` shows them all.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from audienceadmin.sso import config as sso_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Variables already in the environment win over the file.
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production (DJANGO_DEBUG false) refuses to start "
            "without it. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "insecure-debug-only-key-do-not-use-in-production"  # noqa: S105

# Comma-separated Fernet keys, newest first. Checked by audienceadmin.checks (E002).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Comma-separated secrets that seal the audit chain, newest first (E005 when missing).
AUDIT_HMAC_KEYS = env.list("AUDIT_HMAC_KEYS", default=[])

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",  # allauth's MFA pages use it
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "audienceadmin",
    "audienceadmin.sso",  # the OpenID Connect provider (always verifies ID token signatures)
]

# Background work (bulk deletion): Django's tasks framework, queued in the database.
# Run workers with `manage.py worker` (`make run` starts one with the web server).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

MIDDLEWARE = [
    "audienceadmin.logs.RequestIdMiddleware",  # first: every response and log line gets the request id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "audienceadmin.middleware.SessionRefreshMiddleware",  # after sessions: it runs first on the way out
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "audienceadmin.middleware.NoStoreWhenLoggedInMiddleware",  # after authentication: it reads the user
    "allauth.account.middleware.AccountMiddleware",
    "audienceadmin.middleware.MfaEnrolmentMiddleware",  # after auth: users who must enrol reach only that
    "audienceadmin.middleware.OperatorTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses logins while locked out
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "audienceadmin.urls"
# Always on, debug or not: no error report shows a local variable of the frames that hold keys.
DEFAULT_EXCEPTION_REPORTER_FILTER = "audienceadmin.batch.reporting.KeySafeExceptionReporterFilter"
WSGI_APPLICATION = "audienceadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "audienceadmin.sso.context.sign_in",
                "audienceadmin.navigation.nav",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers (the history page) run while a delete writes its audit event.
    # IMMEDIATE: a transaction takes the write lock when it begins, which serialises audit appends.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    # Tests use a file too (not shared-cache memory), so they lock and wait as production does.
    DATABASES["default"].setdefault("TEST", {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # No transaction here waits on anything but the database (never on Batch), so one left open longer
    # than this belongs to a frozen process (SIGSTOP, a paused VM): PostgreSQL ends it, and the locks it
    # held (the audit chain's, a bulk job's row) are free for the live instances again.
    idle = env.float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default=10.0)
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c idle_in_transaction_session_timeout={int(idle * 1000)}"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` puts the files WhiteNoise serves (built per release, never edited by hand).
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

OIDC_ISSUER_URL = env.str("OIDC_ISSUER_URL", default="").rstrip("/")
OIDC_FORM_ACTION_ORIGINS = env.list("OIDC_FORM_ACTION_ORIGINS", default=sso_config.form_action_origins(OIDC_ISSUER_URL))
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    # The SSO button's answer redirects to the IdP (its authorization endpoint, on the issuer's origin
    # unless OIDC_FORM_ACTION_ORIGINS says otherwise).
    "form-action": [CSP.SELF, *OIDC_FORM_ACTION_ORIGINS],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# A login expires after this many seconds without a request (each request renews it).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=3600)
SESSION_REFRESH_EVERY = 60  # seconds; see audienceadmin.middleware.SessionRefreshMiddleware

# HTTPS posture (`manage.py check --deploy` is clean with the defaults, outside debug).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe the health checks over plain HTTP (audienceadmin/health.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    # Only behind a proxy that sets (and strips client-sent) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_HTTPONLY = True

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures, lock out the username from that
# IP, and the IP itself whatever the usernames tried (axes counts each parameter against the same
# limit). A successful login clears only its own username's failures (audienceadmin.access).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = "audienceadmin.access.axes_lockout_parameters"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "audienceadmin.access.client_ip"
# Failed logins in the audit: past this many from one IP within the window (seconds), the next
# window's failures are counted into one event instead of one event each (services/logins.py).
AUDIT_LOGIN_BURST_THRESHOLD = env.int("AUDIT_LOGIN_BURST_THRESHOLD", default=10)
AUDIT_LOGIN_BURST_WINDOW = env.float("AUDIT_LOGIN_BURST_WINDOW", default=60.0)
# How many reverse proxies (that append to X-Forwarded-For) stand in front of the app: 0 = none.
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)

# --- Sign-in: django-allauth (accounts, OpenID Connect SSO, MFA) --------------------------------
# Password logins are throttled by django-axes above (shared by every instance through the database,
# audited); allauth's own limits (per process) keep guarding MFA codes and re-authentication. The
# per-username limit of failures is set above axes' so that axes decides on passwords.
ACCOUNT_ADAPTER = "audienceadmin.sso.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "audienceadmin.sso.adapters.SocialAccountAdapter"
ACCOUNT_FORMS = {"login": "audienceadmin.sso.forms.DashboardLoginForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]  # sign-up is closed: people are invited
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = True  # SESSION_COOKIE_AGE (sliding) decides, not the browser's lifetime
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Failed password sign-ins are django-axes' (per username and IP, and per IP): every one of them reaches
# authenticate(), so each is throttled and audited (or counted in a burst) there. allauth's own limit only
# backs that up per username, above axes' limit.
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": f"{max(AXES_FAILURE_LIMIT * 2, 10)}/300s/key"}
ACCOUNT_PASSWORD_RESET_TIMEOUT = PASSWORD_RESET_TIMEOUT = env.int("INVITATION_VALID_HOURS", default=72) * 3600
# Local (username + password) sign-in; off: only superusers may use it (the break-glass account).
LOCAL_PASSWORD_LOGIN = env.bool("LOCAL_PASSWORD_LOGIN", default=True)
# Minutes a sign-in (or re-authentication) counts as recent for the dangerous steps.
REAUTHENTICATION_MINUTES = env.int("REAUTHENTICATION_MINUTES", default=15)
REAUTHENTICATION_REQUIRED = REAUTHENTICATION_MINUTES > 0
ACCOUNT_REAUTHENTICATION_TIMEOUT = max(REAUTHENTICATION_MINUTES, 1) * 60

MFA_ADAPTER = "audienceadmin.sso.adapters.MfaAdapter"  # TOTP secrets encrypted with FIELD_ENCRYPTION_KEYS
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Audience Admin")
MFA_TOTP_TOLERANCE = 1  # the code of the period before or after is accepted too (phone clocks drift)
MFA_PASSKEY_LOGIN_ENABLED = False  # passkeys are a second factor here, after the password
# WebAuthn needs HTTPS, except on http://localhost during development and tests.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=DEBUG)
# Local accounts with these roles (and superusers, user administrators) must enrol MFA first.
MFA_REQUIRED = env.bool("MFA_REQUIRED", default=True)

SOCIALACCOUNT_AUTO_SIGNUP = True  # first SSO sign-in creates the user, with no role
SOCIALACCOUNT_LOGIN_ON_GET = False  # the flow starts with a POST (CSRF-protected)
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # an invited user's first SSO sign-in joins their account
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.float("OIDC_TIMEOUT", default=5.0)
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_COMPANY_NAME = env.str("OIDC_COMPANY_NAME", default="your company")
OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env.list("OIDC_ALLOWED_DOMAINS", default=[])]
OIDC_SCOPES = env.list("OIDC_SCOPES", default=["openid", "profile", "email"])
# The ID token claim that lists the user's groups (e.g. "groups"); empty: roles are not synced.
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="")
# IdP group -> role, e.g. "aa-operators=Operators,aa-keys=Key administrators" (README: Single sign-on).
OIDC_GROUP_ROLES = env.dict("OIDC_GROUP_ROLES", default={})
SOCIALACCOUNT_PROVIDERS = sso_config.socialaccount_providers(
    issuer=OIDC_ISSUER_URL,
    client_id=OIDC_CLIENT_ID,
    secret=OIDC_CLIENT_SECRET,
    company=OIDC_COMPANY_NAME,
    domains=OIDC_ALLOWED_DOMAINS,
    scopes=OIDC_SCOPES,
)

# Invitations and other mail. The console backend (debug) prints messages; production uses SMTP.
EMAIL_BACKEND_PATH = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS: dict[str, dict[str, object]] = {"default": {"BACKEND": EMAIL_BACKEND_PATH}}
if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env.str("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=587),
        "username": env.str("EMAIL_HOST_USER", default=""),
        "password": env.str("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=True),
        "timeout": env.float("EMAIL_TIMEOUT", default=10.0),
    }
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Audience Admin <audience-admin@localhost>")

# --- Batch API -------------------------------------------------------------------------------
BATCH_API_URL = env.str("BATCH_API_URL", default="https://api.batch.com").rstrip("/")
# Seconds to wait for Batch to answer one HTTP call once it was sent.
BATCH_API_TIMEOUT = env.float("BATCH_API_TIMEOUT", default=10.0)
# Seconds to wait for a TCP/TLS connection to Batch.
BATCH_API_CONNECT_TIMEOUT = env.float("BATCH_API_CONNECT_TIMEOUT", default=3.05)
# Overall seconds one operation (all its tries and waits) may take.
BATCH_API_DEADLINE = env.float("BATCH_API_DEADLINE", default=30.0)
# Tries per operation for the retryable answers (connection refused, 500, 503, 429).
BATCH_API_MAX_TRIES = env.int("BATCH_API_MAX_TRIES", default=4)
# CEP projects' Audience API version (2.x). 2.11 is the server default of Batch's published OpenAPI
# description, whose routes include remove, view and list, and what public CEP clients send.
BATCH_PROJECT_API_VERSION = env.str("BATCH_PROJECT_API_VERSION", default="2.11")
# CEP: requests per second per project (Batch's documented-by-others default: 1/s), shared by every
# worker and web instance through the database.
BATCH_PROJECT_RATE = env.float("BATCH_PROJECT_RATE", default=1.0)
# Seconds the removal follow-up keeps asking whether a CEP removal was applied.
BATCH_REMOVAL_FOLLOW_UP_SECONDS = env.float("BATCH_REMOVAL_FOLLOW_UP_SECONDS", default=900.0)
# Request bodies. Uploads (the bulk list) are kept in memory and stopped past UPLOAD_MAX_BYTES
# (audienceadmin/uploads.py); form fields without files (a pasted list) may hold up to 2 MB. The
# reverse proxy refuses larger bodies first (README, Deploying: `client_max_body_size 2m`).
UPLOAD_MAX_BYTES = 1024 * 1024
UPLOAD_DRAIN_MAX_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
FILE_UPLOAD_HANDLERS = ["audienceadmin.uploads.BoundedUploadHandler"]
# Bulk deletion: Batch calls in flight at once per job (keep it modest: Batch rate-limits).
BULK_CONCURRENCY = env.int("BULK_CONCURRENCY", default=4)
# Seconds a bulk job's run holds its job without renewing it (renewed every twelfth of it; at least the
# client's hard bound plus a few seconds):
# after a worker dies, another takes its jobs over once this has passed.
BULK_LEASE_SECONDS = env.float("BULK_LEASE_SECONDS", default=60.0)
# Most audiences in one bulk job.
BULK_MAX_ITEMS = env.int("BULK_MAX_ITEMS", default=5000)
# The most audiences read of one app's full list (bulk review, the browser's search and sorts): a
# hundred per call to Batch. Past it, the list is said to be incomplete.
AUDIENCE_LIST_MAX = env.int("AUDIENCE_LIST_MAX", default=20_000)
# Seconds the audience browser keeps an app's full list (search, sorts) before reading it again.
AUDIENCE_LIST_CACHE_SECONDS = env.int("AUDIENCE_LIST_CACHE_SECONDS", default=60)
# Seconds a confirmation page stays valid: after that, its preview is looked at again before deleting.
CONFIRMATION_MAX_AGE = env.int("DELETE_CONFIRMATION_MAX_AGE", default=600)
# The two-person rule (issue 16): hours a deletion request waits for a decision before it expires
# (never executed after that, by the database's clock).
APPROVAL_EXPIRY_HOURS = env.float("APPROVAL_EXPIRY_HOURS", default=24.0)
# Notifications of deletion requests: an optional webhook (a JSON POST, e.g. a chat tool's incoming
# webhook) besides e-mail; how often a notification is tried; the dashboard's address for the links.
APPROVAL_WEBHOOK_URL = env.str("APPROVAL_WEBHOOK_URL", default="")
NOTIFICATION_MAX_TRIES = env.int("NOTIFICATION_MAX_TRIES", default=6)
NOTIFICATION_TIMEOUT = env.float("NOTIFICATION_TIMEOUT", default=5.0)
DASHBOARD_URL = env.str("DASHBOARD_URL", default="http://127.0.0.1:8000").rstrip("/")
# Seconds a process keeps retrying to record an attempt's outcome while the database is unavailable.
LATE_RECORD_WINDOW = env.float("LATE_RECORD_WINDOW", default=600.0)
# Seconds past an attempt's deadline before the sweep closes it as "unknown (interrupted)".
AUDIT_SWEEP_GRACE = env.float("AUDIT_SWEEP_GRACE", default=60.0)

# "json": one object per line with the request id (audienceadmin/logs.py); "plain": for people.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request": {"()": "audienceadmin.logs.RequestContextFilter"},
        "client_errors": {"()": "audienceadmin.logs.ClientErrorFilter"},
    },
    "formatters": {
        "plain": {"()": "audienceadmin.logs.PlainFormatter"},
        "json": {"()": "audienceadmin.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request", "client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # runserver's own line per request repeats the one RequestIdMiddleware logs (audienceadmin.requests).
    # django-axes narrates every login at INFO; failures and lockouts are audit events (audienceadmin.signals).
    "loggers": {"django.server": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}
