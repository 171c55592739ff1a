"""Write a local `.env` with fresh secrets if there is none: `python -m audienceadmin.envfile`.

Never overwrites an existing file (its keys encrypt the database's secrets).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"

TEMPLATE = """\
# Written by `make run`. Keep it secret; never commit it.
# FIELD_ENCRYPTION_KEYS encrypts the Batch keys stored in the database: losing it loses them.
DJANGO_SECRET_KEY={secret_key}
FIELD_ENCRYPTION_KEYS={fernet_key}
"""


def main() -> int:
    if ENV_FILE.exists():
        return 0
    ENV_FILE.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            fernet_key=Fernet.generate_key().decode(),
        )
    )
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE.name} with a new DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEYS.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
