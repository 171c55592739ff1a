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
CHUNK_ROWS = 1000  # rows per chunk sent: memory stays flat, overhead stays low


def neutralised(value: Any) -> Any:
    """The value as written to a cell (numbers and empty values unchanged)."""
    if isinstance(value, str):
        return MARK + value if value.startswith(STARTS_TO_NEUTRALISE) else value
    if value is None or isinstance(value, int | float):
        return value
    return neutralised(str(value))


def original(cell: str) -> str:
    """The value a cell was written from: one leading MARK removed, if there is one."""
    return cell[len(MARK) :] if cell.startswith(MARK) else cell


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of a header and rows, in chunks of ``CHUNK_ROWS`` rows (constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, start=1):
        writer.writerow([neutralised(value) for value in row])
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
