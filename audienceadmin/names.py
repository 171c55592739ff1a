"""Audience names: Batch's rule, how a refusal is explained, and reading a list of names for a bulk job.

Forms, the command line and the services read names through this module (it imports no worker
and no view).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from audienceadmin import batch, wording

MAX_LENGTH = 255


def is_valid(name: str) -> bool:
    """Batch's rule (``^[A-Za-z0-9_-]{1,255}$``), as the Batch client checks it."""
    return batch.is_valid_audience_name(name)


def refusal(name: str) -> str:
    """Why a name Batch would refuse is refused, for the field it was typed in."""
    if len(name) > MAX_LENGTH:
        return wording.name_too_long(len(name), MAX_LENGTH)
    return wording.name_not_allowed(name, sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_-"))}))


def _short_refusal(name: str) -> str:
    """Why, in the few words of a bulk list's report."""
    return wording.name_too_long_short(MAX_LENGTH) if len(name) > MAX_LENGTH else wording.NAME_NOT_ALLOWED_SHORT


@dataclass
class NameReport:
    """The validation report shown before a bulk job is created."""

    valid: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    too_many: bool = False


def bulk_names_check(text: str, *, limit: int | None = None) -> NameReport:
    """Names one per line (or comma/semicolon separated, as a .csv has them), blank lines ignored."""
    limit = limit or settings.BULK_MAX_ITEMS
    report, seen = NameReport(), set[str]()
    for line in text.splitlines():
        for raw in line.replace(";", ",").split(","):
            name = raw.strip().strip('"').strip()
            if not name:
                continue
            if not is_valid(name):
                report.invalid.append((name[:80], _short_refusal(name)))
            elif name in seen:
                report.duplicates.append(name)
            else:
                seen.add(name)
                report.valid.append(name)
    report.too_many = len(report.valid) > limit
    return report
