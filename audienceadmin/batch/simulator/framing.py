"""Reading a request body the way a strict server does: Content-Length or chunked, bounded, never guessed."""

from __future__ import annotations

import io
import re
from email.message import Message
from typing import BinaryIO

MAX_BODY_BYTES = 16 * 1024 * 1024


class BadFraming(Exception):
    """The request body could not be delimited; the connection must be closed."""


def read_body(headers: Message, rfile: io.BufferedIOBase | BinaryIO) -> bytes:
    encodings = [v.strip().lower() for v in headers.get_all("Transfer-Encoding", [])]
    if encodings:
        if encodings != ["chunked"]:
            raise BadFraming("unsupported Transfer-Encoding")
        return _read_chunked(rfile)
    lengths = {v.strip() for v in headers.get_all("Content-Length", [])}
    if not lengths:
        return b""
    if len(lengths) != 1:
        raise BadFraming("conflicting Content-Length headers")
    (length_s,) = lengths
    if not re.fullmatch(r"[0-9]{1,12}", length_s):
        raise BadFraming("invalid Content-Length")
    length = int(length_s)
    if length > MAX_BODY_BYTES:
        raise BadFraming("request body too large")
    body = rfile.read(length)
    if len(body) != length:
        raise BadFraming("truncated request body")
    return body


def _read_chunked(rfile: io.BufferedIOBase | BinaryIO) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1026)
        size_s = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_s):
            raise BadFraming("invalid chunk size")
        size = int(size_s, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY_BYTES:
            raise BadFraming("request body too large")
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise BadFraming("truncated chunk")
        chunks.append(chunk)
    for _ in range(100):  # trailers, up to the empty line
        trailer = rfile.readline(65537)
        if trailer in (b"\r\n", b"\n", b""):
            break
    return b"".join(chunks)
