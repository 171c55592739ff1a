"""App names: what operators pick an app by, in the delete form, the history and the audit.

A name must look like what it is: an operator who picks "Shop iOS" must not be deleting in an app
whose name only looks the same (a Cyrillic "о", a no-break space, a zero-width space, a
right-to-left override). So a new or changed name is

- normalised: NFKC (full-width letters, ligatures and the other compatibility forms become the
  plain ones; a no-break or thin space becomes a space), then trimmed;
- refused if it holds a control, format or invisible character (Unicode categories Cc, Cf, Cs, Co,
  Cn, Zl, Zp) or a space other than the plain one;
- refused if its *skeleton* is that of another app's name: NFKC, the Cyrillic and Greek letters that
  look like Latin ones mapped to those (``CONFUSABLES``, a small table after Unicode's
  confusables.txt), case folded, runs of spaces collapsed.

Names stored before these rules keep working: only a new or changed name is checked.
"""

from __future__ import annotations

import unicodedata

from audienceadmin import wording

# Cyrillic and Greek letters drawn like Latin ones -> the Latin letter (before case folding, so that
# an upper-case letter maps to what it looks like: Greek "Ν" is an "N", its lower case "ν" a "v").
CONFUSABLES = str.maketrans(
    {
        **dict(zip("АВЕЅІЈКМНОРСТХУ", "ABESIJKMHOPCTXY", strict=True)),  # Cyrillic capitals
        **dict(zip("аеіјорсхуѕԁһӏԛԝ", "aeijopcxysdhlqw", strict=True)),  # Cyrillic small letters
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),  # Greek capitals
        **dict(zip("αιοκνρτυχ", "aiokvptux", strict=True)),  # Greek small letters
    }
)
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalised(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def skeleton(name: str) -> str:
    """What a name looks like: two names with the same skeleton are too easily taken for each other."""
    return " ".join(unicodedata.normalize("NFKC", name).translate(CONFUSABLES).casefold().split())


def _described(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'an unnamed character')}"


def refusal(name: str) -> str | None:
    """Why a normalised name is refused on its own, or None (the clash with another app is checked
    by ``selectors.app_name_refusal``)."""
    if not name:
        return wording.APP_NAME_EMPTY
    for char in name:
        category = unicodedata.category(char)
        if category in INVISIBLE_CATEGORIES:
            return wording.app_name_invisible(_described(char))
        if category == "Zs" and char != " ":
            return wording.app_name_odd_space(_described(char))
    return None
