"""EncryptedTextField: a text column that only ever holds Fernet ciphertext, read back as a ``Secret``.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (newest first): the first encrypts, all of them
decrypt (MultiFernet), so a new key can be put in front and old rows re-encrypted later with
``manage.py rotate_encryption_keys``.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from audienceadmin.batch.secrets import Secret


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key. Never carries the ciphertext."""


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: set it to one or more comma-separated Fernet keys "
            "(newest first). `make run` writes one into .env on first run."
        )
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None


def multifernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return multifernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return multifernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)."
        ) from None


def is_current(ciphertext: str) -> bool:
    """True when the newest key alone can read this token (nothing to rotate)."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0].strip().encode()).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (raises DecryptionError if no key can read it)."""
    try:
        return multifernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS.") from None


class EncryptedTextField(models.TextField):
    """Encrypts on the way to the database, decrypts on the way back into a ``Secret`` (which prints
    as a hint, never as the key). Lookups are refused: ciphertexts are randomised, so equality or
    containment on them would silently find nothing."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Secret(decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(str(value))

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Secret):
            value = value.reveal()
        return encrypt(str(value))

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise NotImplementedError(
            f"EncryptedTextField does not support the '{lookup_name}' lookup: its column holds randomised ciphertext."
        )

    def get_transform(self, lookup_name):
        raise NotImplementedError("EncryptedTextField does not support transforms.")
