"""Write a local `.env` with fresh secrets: `python -m audienceadmin.envfile`.

Never overwrites a value (the encryption key is what makes the stored Batch keys readable); a
secret a newer version needs and the file lacks is appended.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"

HEADER = """\
# Written by `make run`. Keep it secret; never commit it.
# FIELD_ENCRYPTION_KEYS encrypts the Batch keys stored in the database: losing it loses them.
"""
SECRETS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
    "AUDIT_HMAC_KEYS": lambda: secrets.token_urlsafe(32),
}


def main() -> int:
    text = ENV_FILE.read_text() if ENV_FILE.exists() else HEADER
    present = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line}
    missing = [name for name in SECRETS if name not in present]
    if not missing:
        return 0
    if not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{name}={SECRETS[name]()}\n" for name in missing)
    ENV_FILE.write_text(text)
    ENV_FILE.chmod(0o600)
    print(f"Wrote {', '.join(missing)} to {ENV_FILE.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
