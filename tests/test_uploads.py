"""Uploads: a file over 1 MB is stopped while it arrives, through the real WSGI handler, never on disk."""

from __future__ import annotations

import io
import uuid

import pytest
from django.conf import settings
from django.core.files import temp
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
CSRF = "a" * 32  # an unmasked CSRF secret is a valid token too


class CountingInput(io.RawIOBase):
    """A request body that counts the bytes the server reads from it."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


def multipart(app_pk: int, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        ("csrfmiddlewaretoken", None, CSRF.encode()),
        ("app", None, str(app_pk).encode()),
        ("names", None, b""),
        ("file", "names.txt", file_bytes),
    ]
    body = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        content_type = b"Content-Type: text/plain\r\n" if filename else b""
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode() + content_type + b"\r\n"
        body += value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_through_wsgi(session_cookie: str, body: bytes, content_type: str) -> tuple[str, str, CountingInput]:
    stream = CountingInput(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("bulk_new"),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session_cookie}; {settings.CSRF_COOKIE_NAME}={CSRF}",
        "wsgi.input": io.BufferedReader(stream),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    status = []
    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
        html = b"".join(response).decode()
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return status[0], html, stream


@pytest.fixture
def session_cookie(operator) -> str:
    client = Client()
    client.force_login(operator)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.parametrize("size", [5 * MB, 1 * MB + 300 * 1024])
def test_a_file_over_1_mb_is_stopped_as_it_arrives_and_never_written_to_disk(
    session_cookie, batch_app, size, monkeypatch
):
    def no_temporary_file(*args, **kwargs):
        raise AssertionError("an upload was written to a temporary file")

    monkeypatch.setattr(temp, "NamedTemporaryFile", no_temporary_file)  # where Django's uploads get theirs
    body, content_type = multipart(batch_app.pk, b"audience-name\n" * (size // 14))
    status, html, stream = post_through_wsgi(session_cookie, body, content_type)
    assert status.startswith("200")
    assert "The file is larger than 1 MB." in html
    if len(body) > 2 * MB:  # more than the proxy lets through (UPLOAD_DRAIN_MAX_BYTES)
        # the limit, plus at most one chunk of the parser (64 KiB) and the other fields
        assert stream.read_bytes <= MB + 64 * 1024 + 4096, stream.read_bytes
    else:  # a small excess is read to the end, so that a browser still sending receives the page
        assert stream.read_bytes == len(body)


def test_a_file_under_1_mb_is_read_whole_from_memory(session_cookie, batch_app):
    body, content_type = multipart(batch_app.pk, b"first\nsecond\n" + b"x" * (MB - 100))
    status, html, _ = post_through_wsgi(session_cookie, body, content_type)
    assert status.startswith("200") and "larger than 1 MB" not in html
    assert "longer than 255 characters" in html  # the file's content was read and checked


def test_django_limits_the_other_fields_too():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2 * MB
    assert settings.FILE_UPLOAD_HANDLERS == ["audienceadmin.uploads.BoundedUploadHandler"]
