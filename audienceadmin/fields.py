"""EncryptedTextField: a text column that only ever holds Fernet ciphertext, read back as a ``Secret``.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (newest first): the first encrypts, all of them
decrypt (MultiFernet), so a new key can be put in front and old rows re-encrypted later with
``manage.py rotate_encryption_keys``.

**Each ciphertext is bound to its row and field.** What is encrypted is an envelope,
``{"model": "audienceadmin.batchapp", "row": 5, "field": "api_key", "key": "…"}``, and a key opens
only where its envelope says it belongs: a ciphertext copied into another row (or column) of the
database is refused with a ``MisboundKeyError`` instead of silently calling Batch with another app's
keys. Fernet's rotation re-encrypts the envelope as it is, so the binding survives it.

The binding is made where the row is known, by the field itself:

- writing: ``pre_save`` seals the value with its instance's id (``BatchApp.save`` inserts a new row
  first, then writes its keys once the id exists, in the same transaction);
- reading on an instance: the attribute (``app.api_key``) is a ``Secret``, checked against the
  instance's id when first read;
- reading without an instance (``values_list``, raw SQL in checks and migrations): a ``SealedKey``,
  which gives its key only to ``open(row=…)``, naming the row it was read from.

Why in the field, and not in the services: a key is then checked wherever it is read, by any code,
and no path can read a key without saying which row it came from.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from audienceadmin.batch.secrets import Secret


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key, or does not belong where it was
    read. Never carries the ciphertext or the key."""


class MisboundKeyError(DecryptionError):
    """A stored key decrypts, but its envelope names another row or field (it was copied there), or
    none at all (it was stored before keys were bound to their rows, or copied from such a backup).
    ``bound_to``: the (model, row, field) it was sealed for, None if it was not sealed."""

    def __init__(self, message: str, *, bound_to: tuple[str, int, str] | None) -> None:
        super().__init__(message)
        self.bound_to = bound_to


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


def envelope(key: str, *, model: str, row: int, field: str) -> str:
    """The plaintext that is encrypted: the key with the place it belongs to."""
    return json.dumps({"model": model, "row": row, "field": field, "key": key}, separators=(",", ":"))


def seal(key: str | Secret, *, model: str, row: int, field: str) -> str:
    """The ciphertext of ``key``, bound to ``row`` and ``field`` of ``model``."""
    return encrypt(envelope(key.reveal() if isinstance(key, Secret) else key, model=model, row=row, field=field))


class SealedKey:
    """A stored key as read from the database without its model instance: it opens only with the
    row it was read from. Holds ciphertext; prints nothing of it."""

    __slots__ = ("_field", "_model", "_token")

    def __init__(self, token: str, *, model: str, field: str) -> None:
        self._token, self._model, self._field = token, model, field

    @property
    def token(self) -> str:
        return self._token

    def open(self, *, row: int | None) -> Secret:
        """The key, if this ciphertext was sealed for ``row`` and this field; else MisboundKeyError
        (DecryptionError if no configured key decrypts it)."""
        plaintext = decrypt(self._token)
        try:
            sealed = json.loads(plaintext)
            bound_to = (sealed["model"], sealed["row"], sealed["field"])
            key = sealed["key"]
        except (ValueError, TypeError, KeyError):
            raise MisboundKeyError(
                f"The stored {self._field} of {self._model} #{row} is not bound to its row: it was stored "
                "before keys were bound to their rows and not migrated, or copied from such a backup.",
                bound_to=None,
            ) from None
        if bound_to != (self._model, row, self._field) or not isinstance(key, str):
            raise MisboundKeyError(
                f"The stored {self._field} of {self._model} #{row} was encrypted for {bound_to[0]} "
                f"#{bound_to[1]}'s {bound_to[2]}: it was copied there, not set through the dashboard.",
                bound_to=bound_to,
            )
        return Secret(key)

    def __repr__(self) -> str:
        return f"SealedKey({self._model}.{self._field})"

    def __reduce__(self):  # noqa: ANN204 - refusing is the point
        raise TypeError("A SealedKey cannot be pickled.")


class _Sealing:
    """What ``pre_save`` hands to ``get_prep_value``: a key and the place it is bound to."""

    __slots__ = ("key", "row")

    def __init__(self, key: Secret, row: int) -> None:
        self.key, self.row = key, row


class SealedKeyAttribute(DeferredAttribute):
    """The attribute on a model instance: a ``Secret``, checked against the instance's id when it
    is first read (a key loaded from the database arrives as a ``SealedKey``)."""

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)  # loads a deferred key from the database
        if isinstance(value, SealedKey):
            value = value.open(row=instance.pk)
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Encrypts on the way to the database, bound to its row and field; decrypts on the way back
    into a ``Secret`` (which prints as a hint, never as the key). Lookups are refused: ciphertexts
    are randomised, so equality or containment on them would silently find nothing."""

    descriptor_class = SealedKeyAttribute

    @property
    def model_label(self) -> str:
        return self.model._meta.label_lower

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return SealedKey(value, model=self.model_label, field=self.attname)

    def to_python(self, value):
        if value is None or isinstance(value, Secret | SealedKey):
            return value
        return Secret(str(value))

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, SealedKey):
            return value  # not read since it was loaded: written back as it is
        if model_instance.pk is None:
            return ""  # no id to bind to yet: BatchApp.save writes the key once the insert gave one
        return _Sealing(Secret(value), model_instance.pk)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        if isinstance(value, SealedKey):
            return value.token
        if isinstance(value, _Sealing):
            return seal(value.key, model=self.model_label, row=value.row, field=self.attname)
        raise TypeError(
            "An encrypted key is bound to its row: set it on the model instance and save() it "
            "(a queryset update() cannot say which row each key belongs to)."
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise NotImplementedError(
            f"EncryptedTextField does not support the '{lookup_name}' lookup: its column holds randomised ciphertext."
        )

    def get_transform(self, lookup_name):
        raise NotImplementedError("EncryptedTextField does not support transforms.")
