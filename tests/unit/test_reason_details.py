"""Precise, content-free details for odd headers (red-team finding 8, issue 12).

Before: ``not_json`` read "Unterminated string starting at at position 37"; a
byte order mark was "Expecting value at position 0"; a 5,000-digit float was
``non_finite_number`` with no detail. Duplicate keys are decided and
documented (docs/middleware.md): the last one wins, as in the gateway's own
``JSON.parse``.
"""

from __future__ import annotations

import json

import pytest

from soajs.context import Reason, parse_inject_header

T = b'"tenant":{"id":"t","code":"c"}'


def parse(raw: bytes) -> tuple[Reason, str]:
    result = parse_inject_header([raw], 65536)
    return result.reason, result.detail


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"{" + T + b',"n":"abc}', "Unterminated string starting at position 36"),
        (b"{" + T + b',"n":"a\x01b"}', "Invalid control character at position 38"),
        (b"{" + T + b',"n":}', "Expecting value at position 36"),
    ],
)
def test_not_json_details_say_where_in_plain_words(raw: bytes, detail: str) -> None:
    assert parse(raw) == (Reason.NOT_JSON, detail)


def test_no_detail_doubles_a_word() -> None:
    for raw in (b'{"a":"', b'{"a":"\x1f"}', b"{", b'{"a" 1}', b'{"a":1,}', b'{"a\\x":1}'):
        reason, detail = parse(raw)
        assert reason is Reason.NOT_JSON and " at at " not in detail, detail


@pytest.mark.parametrize("prefix", [b"\xef\xbb\xbf", b"  \xef\xbb\xbf"])
def test_a_byte_order_mark_is_named(prefix: bytes) -> None:
    reason, detail = parse(prefix + b"{" + T + b"}")
    assert reason is Reason.NOT_JSON
    assert "byte order mark" in detail


@pytest.mark.parametrize(
    "number",
    [b"1" * 5000 + b".5", b"-" + b"9" * 400 + b".0", b"1e999", b"-1E+999", b"123.4e400"],
)
def test_a_number_beyond_the_float_range_says_so(number: bytes) -> None:
    reason, detail = parse(b"{" + T + b',"n":' + number + b"}")
    assert reason is Reason.NON_FINITE_NUMBER
    assert detail == f"a number beyond the float range ({len(number)} characters)"


@pytest.mark.parametrize("name", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_named(name: bytes) -> None:
    reason, detail = parse(b"{" + T + b',"n":' + name + b"}")
    assert (reason, detail) == (Reason.NON_FINITE_NUMBER, f"{name.decode()} is not a JSON number")


def test_a_tiny_or_long_finite_float_is_a_number() -> None:
    for number in (b"1e-999", b"0." + b"1" * 5000):
        reason, _ = parse(b"{" + T + b',"n":' + number + b"}")
        assert reason is Reason.OK


def test_duplicate_keys_the_last_one_wins_as_json_parse_does() -> None:
    """The gateway builds the header with ``JSON.stringify`` of an object, which never
    repeats a key; a header that does was not built by it, and is read as Node's
    ``JSON.parse`` (and Python's json, msgspec) reads it: the last value wins."""
    raw = b"{" + T + b',"tenant":{"id":"t2","code":"c2"}}'
    result = parse_inject_header([raw], 65536)
    assert result.reason is Reason.OK and result.context is not None
    assert result.context.tenant.id == "t2" == json.loads(raw)["tenant"]["id"]
