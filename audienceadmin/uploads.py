"""Uploaded files: at most ``UPLOAD_MAX_BYTES`` per request, kept in memory, never written to disk.

Django's default handlers write any upload larger than 2.5 MB to a temporary file, and the bulk
form refused a file over 1 MB only once all of it had arrived: a 2 GB upload filled the disk first.
``BoundedUploadHandler`` (the only entry of ``FILE_UPLOAD_HANDLERS``) stops reading the request as
soon as its files pass the limit, and notes which field was refused (``refused_uploads``), so that
the form can say "larger than 1 MB" instead of "no file".

What is left of the body is drained only when it is small (``UPLOAD_DRAIN_MAX_BYTES``, the proxy's
body limit): a browser still sending then receives the page with the error. A larger body is not
read at all (the proxy in front, `client_max_body_size 2m`, refuses it before it arrives here).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import HttpRequest

_REFUSED = "_audienceadmin_uploads_too_large"


class BoundedUploadHandler(MemoryFileUploadHandler):
    """Keeps files in memory, up to ``UPLOAD_MAX_BYTES`` for all the files of one request."""

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: str | None = None
    ) -> None:
        # Every file kept is small by construction: memory is the place, whatever the body's length.
        self.activated = True
        self.body_length = content_length
        self.files_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.files_bytes += len(raw_data)
        if self.files_bytes > settings.UPLOAD_MAX_BYTES:
            refused: set[str] = getattr(self.request, _REFUSED, set())
            refused.add(self.field_name)
            setattr(self.request, _REFUSED, refused)
            raise StopUpload(connection_reset=self.body_length > settings.UPLOAD_DRAIN_MAX_BYTES)
        return super().receive_data_chunk(raw_data, start)


def refused_uploads(request: HttpRequest) -> frozenset[str]:
    """The file fields of this request that were refused for being too large (parses the body)."""
    request.FILES  # noqa: B018 - the upload handlers run when the body is parsed
    return frozenset(getattr(request, _REFUSED, ()))
