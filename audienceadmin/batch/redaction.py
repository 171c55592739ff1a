"""Keys echoed back by Batch (or a proxy) never get further than the client.

Every field parsed from an answer goes through ``Redactor.field``: occurrences of a key are replaced,
whatever their case, percent-encoding, or zero-width and white-space characters put inside them;
a field in which a key, or a long fragment of one, can still be recognised after that (once decoded,
normalised, case-folded and stripped of everything but letters and digits) is dropped whole.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from audienceadmin.batch.secrets import Secret

REDACTED = "[redacted]"
WITHHELD = "[withheld: it contained a key]"
# A run of this many letters and digits of a key, found anywhere, counts as the key.
FRAGMENT = 8
# Characters that may be slipped between a key's characters without changing how it reads.
_FILLER = r"(?:[\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff])*"


def skeleton(text: str) -> str:
    """``text`` as a reader would take it: decoded, normalised, case-folded, letters and digits only."""
    for _ in range(3):  # percent-encoding, possibly applied more than once
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    return "".join(c for c in text if c.isalnum())


def _char_pattern(char: str) -> str:
    encoded = "".join(f"%{b:02x}" for b in char.encode())
    return f"(?:{re.escape(char)}|{re.escape(encoded)})"


class Redactor:
    """Built from the keys of one call; cheap enough to build per call."""

    def __init__(self, secrets: Iterable[Secret]) -> None:
        keys = [s.reveal() for s in secrets if len(s) >= 4]
        self._patterns = [
            re.compile(_FILLER.join(_char_pattern(c) for c in key), re.IGNORECASE)
            for key in sorted(keys, key=len, reverse=True)
        ]
        self._fragments: set[str] = set()
        for key in keys:
            skel = skeleton(key)
            size = min(len(skel), FRAGMENT)
            self._fragments.update(skel[i : i + size] for i in range(len(skel) - size + 1))
        self._sizes = sorted({len(f) for f in self._fragments})

    def contains_key(self, text: str) -> bool:
        """True when a key, or a fragment of ``FRAGMENT`` letters and digits of one, can be read in ``text``."""
        skel = skeleton(text)
        return any(skel[i : i + n] in self._fragments for n in self._sizes for i in range(len(skel) - n + 1))

    def text(self, text: str) -> str:
        """Replace every recognisable occurrence of a key."""
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def field(self, text: str, *, withheld: str = WITHHELD) -> str:
        """A field fit to show and store: keys replaced; the whole field withheld if one still shows."""
        text = self.text(text)
        return withheld if self.contains_key(text) else text

    def data(self, value: Any) -> Any:
        """A parsed JSON document with every string (keys of objects too) passed through ``field``."""
        if isinstance(value, str):
            return self.field(value)
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {self.field(str(k)): self.data(v) for k, v in value.items()}
        return value
