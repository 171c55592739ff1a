"""Audience names: Batch's rule, how a refusal is explained, and reading a list of names for a bulk job.

Forms, the command line and the services read names through this module (it imports no worker
and no view).
"""

from __future__ import annotations

import csv
import io
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
    header: str = ""  # a first line taken as a column title (never sent), as it was
    column: str = ""  # the column of a several-column CSV that the names were taken from, in words
    short_rows: int = 0  # rows of that CSV without that column (no name taken from them)


# First lines that are a column title, not an audience (compared lowercased, spaces and dashes as "_").
HEADER_TITLES = frozenset(
    {"name", "names", "audience", "audiences", "audience_name", "audience_names", "audiencename", "custom_audience",
     "custom_audience_name", "custom_audiences", "segment", "segment_name"}
)  # fmt: skip


def _title(cell: str) -> str:
    return "_".join(cell.strip().strip('"').strip().lower().replace("-", " ").split())


def _is_title(cell: str) -> bool:
    return _title(cell) in HEADER_TITLES


def _cells(line: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.replace(";", ",").split(",")]


def _csv_column(text: str, report: NameReport) -> list[str] | None:
    """A CSV with several columns (every row as many, two at least; or a first row with a known column
    title): the column that holds the names, after a header row if there is one. None when the text is
    not such a table. A row too short to have that column gives no name (the column cannot be guessed)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]
    width = len(rows[0])
    first, body = rows[0], rows[1:]
    titled = [i for i, cell in enumerate(first) if _is_title(cell)]
    if width < 2 or (not titled and any(len(row) != width for row in rows)):
        return None
    if titled:
        index = titled[0]
    else:  # no known title: the first column whose values are all names Batch accepts (not only digits)
        index = next(
            (i for i in range(width) if all(is_valid(r[i]) and not r[i].isdigit() for r in body)),
            0,
        )
    header = bool(titled) or not all(is_valid(cell) for cell in first)
    if header:
        report.header = ",".join(first)[:200]
    report.column = wording.csv_column_taken(index + 1, first[index] if header else "")
    taken = body if header else rows
    report.short_rows = sum(1 for row in taken if len(row) <= index)
    return [row[index] for row in taken if len(row) > index]


def bulk_names_check(
    text: str, *, limit: int | None = None, detect_header: bool = False, csv_text: str = ""
) -> NameReport:
    """Names one per line (or comma/semicolon separated), blank lines ignored. ``detect_header``: a
    first line that is a known column title (``name``, ``audience``…) is not a name. ``csv_text``:
    an uploaded .csv, read as a table when it has several columns (the column of names is taken)."""
    limit = limit or settings.BULK_MAX_ITEMS
    report, seen = NameReport(), set[str]()
    raw_names: list[str] = []
    for is_csv, source in ((False, text), (True, csv_text)):
        column = _csv_column(source, report) if is_csv else None
        if column is not None:
            raw_names.extend(column)
            continue
        lines = source.splitlines()
        first = next((_cells(line) for line in lines if line.strip()), [])
        if (detect_header or is_csv) and any(first) and all(_is_title(c) for c in first if c):
            report.header = ",".join(c for c in first if c)[:200]
            lines = lines[[i for i, line in enumerate(lines) if line.strip()][0] + 1 :]
        raw_names.extend(cell for line in lines for cell in _cells(line))
    for raw in raw_names:
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
