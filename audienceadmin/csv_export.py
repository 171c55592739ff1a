"""CSV downloads (the history export, a bulk job's results): one streaming writer, one escaping rule.

**Formula injection.** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and
some run one that starts with a tab or a carriage return) as a formula, so a username, an app name,
a message from Batch or even a valid audience name (``-A1``) could run in the reader's spreadsheet.
Following OWASP's CSV-injection guidance, such a cell is written with a leading ``'``, which makes
the spreadsheet show it as text.

**Getting the exact value back** (to compare a file with the database, or to recompute a MAC): every
text value that starts with one of those characters, *or with* ``'`` *itself*, gets the ``'``; so a
cell that starts with ``'`` always had one added, and removing that one character gives the value
back. ``original()`` does exactly that.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

MARK = "'"
# A text value starting with one of these is written with MARK in front.
STARTS_TO_NEUTRALISE = ("=", "+", "-", "@", "\t", "\r", MARK)
_FIRSTS = frozenset(STARTS_TO_NEUTRALISE)
CHUNK_ROWS = 1000  # rows per chunk sent: memory stays flat, overhead stays low


def neutralised(value: Any) -> Any:
    """The value as written to a cell: numbers and empty values as they are, anything else as text,
    with MARK in front if it starts with one of STARTS_TO_NEUTRALISE."""
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    return MARK + text if text.startswith(STARTS_TO_NEUTRALISE) else text


def cells(row: Sequence[Any]) -> list[Any]:
    """``neutralised`` for each value of a row. Plain text, most cells, takes a shortcut: an export
    writes some 100,000 rows a second, and a function call per cell would cost a third of that."""
    return [(MARK + v if v and v[0] in _FIRSTS else v) if v.__class__ is str else neutralised(v) for v in row]


def original(cell: str) -> str:
    """The value a cell was written from: one leading MARK removed, if there is one."""
    return cell[len(MARK) :] if cell.startswith(MARK) else cell


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of a header and rows, in chunks of ``CHUNK_ROWS`` rows (constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow(cells(row))
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def response(header: Sequence[str], rows: Iterable[Sequence[Any]], *, filename: str) -> StreamingHttpResponse:
    """A download of the rows, streamed as they are read."""
    streamed = StreamingHttpResponse(lines(header, rows), content_type="text/csv; charset=utf-8")
    streamed["Content-Disposition"] = f'attachment; filename="{filename}"'
    return streamed
