"""What every benchmark does first: its own database (never the project's), secrets, Django set up."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"  # ignored by git
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def configure(name: str) -> str:
    """SQLite file bench/out/NAME.sqlite3, or, when DATABASE_URL is PostgreSQL, a database
    "audienceadmin_bench" created beside the one named. Returns the engine's name."""
    OUT.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        admin_db = urlparse(url).path.lstrip("/") or "postgres"
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'audienceadmin_bench'").fetchone():
                conn.execute("CREATE DATABASE audienceadmin_bench")
        os.environ["DATABASE_URL"] = url.replace(f"/{admin_db}", "/audienceadmin_bench", 1)
        keys_file = OUT / f"{name}-postgres.keys.json"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{OUT / f'{name}.sqlite3'}"
        keys_file = OUT / f"{name}.keys.json"
    if not keys_file.exists():  # kept with the database it sealed, for re-runs
        from cryptography.fernet import Fernet

        keys_file.write_text(json.dumps({
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
        }))  # fmt: skip
        keys_file.chmod(0o600)
    os.environ.update(json.loads(keys_file.read_text()))
    os.environ.update({
        "DJANGO_DEBUG": "false", "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver", "DJANGO_SETTINGS_MODULE": "audienceadmin.settings",
        "DJANGO_LOG_LEVEL": "WARNING", "DJANGO_LOG_FORMAT": "plain",
        "MFA_REQUIRED": "false",  # the bench user is a superuser, whom MFA enrolment would redirect
    })  # fmt: skip
    import django

    django.setup()
    import warnings

    from django.conf import settings

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # whitenoise: no collectstatic here

    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return os.environ["DATABASE_URL"].split("://")[0]
