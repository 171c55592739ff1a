"""Keys that cannot be printed by accident.

A ``Secret`` holds a Batch key. Its ``str``, ``repr`` and format show a hint (the last four
characters), never the key; pickling, copying into JSON and comparing with plain strings are
refused. The value comes out only through ``reveal()``, which the transport calls where it builds a
request (in frames that Django's exception reporter cleanses: see ``batch.transport``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field


def key_hint(key: str | Secret) -> str:
    """What may be shown of a key: its last four characters (nothing for a short one)."""
    if isinstance(key, Secret):
        key = key.reveal()
    return "…" + key[-4:] if len(key) >= 12 else "…"


class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("A Secret holds a string.")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    @property
    def hint(self) -> str:
        return key_hint(self._value)

    def __str__(self) -> str:
        return f"[secret {self.hint}]"

    def __repr__(self) -> str:
        return f"Secret('{self.hint}')"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("A Secret cannot be changed.")

    def __reduce__(self):  # noqa: ANN204 - refusing is the point
        raise TypeError("A Secret cannot be pickled.")


@dataclass(frozen=True)
class Credentials:
    """The two keys of an app: for an MEP app its API key (in the URL path) and the company REST API
    key (``X-Authorization``); for a CEP project its project key and its REST API key."""

    api_key: Secret = field(repr=False)
    rest_api_key: Secret = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("api_key", "rest_api_key"):
            value = getattr(self, name)
            if not isinstance(value, Secret):
                object.__setattr__(self, name, Secret(value))

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key!r}, rest_api_key={self.rest_api_key!r})"

    def secrets(self) -> tuple[Secret, ...]:
        return (self.api_key, self.rest_api_key)
