"""Audience names, app names, reading a bulk list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

Outcome = AuditEvent.Outcome


# Audience names.

NAME_RULE = "Letters A–Z and a–z, digits, “_” and “-” only; 1 to 255 characters; case-sensitive."
NAME_NOT_ALLOWED_SHORT = "has characters Batch does not allow"


def name_too_long(length: int, most: int) -> str:
    return f"This name is {length} characters long; Batch allows at most {most}."


def name_too_long_short(most: int) -> str:
    return f"longer than {most} characters"


def name_not_allowed(name: str, bad_characters: list[str]) -> str:
    shown = ", ".join("a space" if c == " " else f"“{c}”" for c in bad_characters[:5])
    return (
        f"“{name[:60]}” is not a valid audience name: Batch does not allow {shown}. "
        "Use only letters, digits, “_” and “-”."
    )


# App names (audienceadmin/app_names.py).

APP_NAME_EMPTY = "Type a name for the app."
APP_NAME_TAKEN = "An app with this name already exists."


def app_name_invisible(character: str) -> str:
    return (
        f"The name holds an invisible or control character ({character}): "
        "it would look like another name. Type the name again without it."
    )


def app_name_odd_space(character: str) -> str:
    return f"The name holds a space other than a plain space ({character}). Use plain spaces only."


def app_name_confusable(existing: str) -> str:
    return (
        f"This name looks like that of the app “{existing}” (same letters up to case, spacing or "
        "look-alike letters from another alphabet). Choose a name operators cannot mistake for it."
    )


# Reading a bulk list.


def csv_column_taken(number: int, title: str) -> str:
    """Which column of a several-column CSV the names were taken from."""
    return f"column {number}" + (f" (“{title}”)" if title else "")


def header_skipped(header: str) -> str:
    return f"The first line, “{header}”, is a column title: it was skipped, not taken as an audience."
