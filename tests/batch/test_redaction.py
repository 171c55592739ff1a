"""Keys echoed by Batch, in any field and any disguise, never come out of the client."""

from __future__ import annotations

import json
import re
import string
import unicodedata
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from audienceadmin.batch import Secret, mep, transport
from audienceadmin.batch.redaction import Redactor

FIELDS = ("error_code", "code", "error", "name", "message", "error_message")


def disguises(key: str) -> dict[str, str]:
    middle = len(key) // 2
    return {
        "plain": key,
        "lower": key.lower(),
        "upper": key.upper(),
        "percent": "".join(f"%{ord(c):02X}" for c in key),
        "percent twice": "".join(f"%25{ord(c):02X}" for c in key),
        "zero-width": key[:middle] + "\u200b" + key[middle:],
        "soft hyphen": key[:middle] + "\u00ad" + key[middle:],
        "split": key[:middle] + " " + key[middle:],
        "split by a line": key[:middle] + "\n" + key[middle:],
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key),
        "half": key[:middle],
    }


def independent_skeleton(text: str) -> str:
    """Not the redactor's code: decode twice, normalise, lower-case, letters and digits only."""
    text = unicodedata.normalize("NFKC", unquote(unquote(text))).lower()
    return re.sub(r"[^0-9a-z]", "", text)


def shows(key: str, text: str) -> bool:
    """Any 8 consecutive letters/digits of the key can be read in the text."""
    skel, hay = independent_skeleton(key), independent_skeleton(text)
    return any(skel[i : i + 8] in hay for i in range(len(skel) - 7))


keys = st.one_of(
    st.text(alphabet="0123456789ABCDEF", min_size=32, max_size=32),  # Batch dev keys: upper-case hex
    st.text(alphabet=string.ascii_letters + string.digits, min_size=24, max_size=40),
    st.builds(
        lambda s: "project_" + s, st.text(alphabet=string.ascii_lowercase + string.digits, min_size=32, max_size=32)
    ),  # fmt: skip
)


@settings(max_examples=150, deadline=None)
@given(
    api_key=keys,
    rest_key=keys,
    field=st.sampled_from(FIELDS),
    disguise=st.sampled_from(sorted(disguises("x" * 8))),
    which=st.sampled_from(["api", "rest"]),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    status=st.sampled_from([400, 401, 403, 404, 429, 500, 503]),
)
def test_a_key_in_any_field_in_any_disguise_never_comes_out(
    api_key, rest_key, field, disguise, which, before, after, status
):
    key = api_key if which == "api" else rest_key
    body = {"message": "Authentication failed", field: before + disguises(key)[disguise] + after}
    redactor = Redactor([Secret(api_key), Secret(rest_key)])
    name, code, message = transport.parse_error_body(status, json.dumps(body).encode(), redactor, mep.KNOWN_ERRORS)
    for value in (name, code, message):
        assert not shows(api_key, value) and not shows(rest_key, value), (field, disguise, value)


@settings(max_examples=60, deadline=None)
@given(api_key=keys, rest_key=keys, disguise=st.sampled_from(sorted(disguises("x" * 8))))
def test_keys_in_a_success_body_are_withheld_too(api_key, rest_key, disguise):
    redactor = Redactor([Secret(api_key), Secret(rest_key)])
    data = {"name": "spring", "description": f"made with {disguises(rest_key)[disguise]}", "nb_ids": 3}
    cleaned = redactor.data(data)
    assert not shows(rest_key, json.dumps(cleaned, ensure_ascii=False))
    assert cleaned["name"] == "spring" and cleaned["nb_ids"] == 3  # the rest is kept


def test_a_key_shaped_error_code_falls_back_to_the_documented_name():
    """The echo that sealed a key into the audit: dev keys are upper-case hex, like an error name."""
    key = "0123456789ABCDEF0123456789ABCDEF"
    redactor = Redactor([Secret(key), Secret("REST" + "x" * 20)])
    body = json.dumps({"error_code": key, "message": f"Invalid key {key.lower()}"}).encode()
    name, code, message = transport.parse_error_body(401, body, redactor, mep.KNOWN_ERRORS)
    assert (name, code) == ("AUTHENTICATION_INVALID", "10")
    assert message == "Invalid key [redacted]"


def test_ordinary_messages_are_left_alone():
    redactor = Redactor([Secret("0123456789ABCDEF0123456789ABCDEF"), Secret("RESTKEY-secret-0123456789")])
    for text in ("Authentication failed: check the API key", "Audience not found", "Too many requests (60/min)"):
        assert redactor.field(text) == text
