"""Headers that decode to values a handler cannot send back: the core must refuse them.

Both kinds are plain ASCII JSON, so the UTF-8 check and the NaN/Infinity check
let them through; found end to end by tests/integration/test_adapter_table.py.
"""

from __future__ import annotations

import json

import pytest

from soajs.context import Reason, parse_inject_header

TENANT = '"tenant": {"id": "t1", "code": "T1"'


@pytest.mark.parametrize(
    "number",
    ["1e999", "-1e999", "1.5e400", "1E+999", "-0.5e00400", "1" + "0" * 400 + ".5", "[1, 1e999]"],
)
def test_a_float_that_overflows_to_infinity_is_refused(number: str) -> None:
    header = f'{{{TENANT}}}, "geo": {{"lat": {number}}}}}'.encode()
    result = parse_inject_header([header], 65536)
    assert result.context is None
    assert result.reason is Reason.NON_FINITE_NUMBER


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f'{{{TENANT}, "name": "\\ud800"}}}}', id="tenant-name"),
        pytest.param(f'{{{TENANT}}}, "urac": {{"username": "a\\udfffb"}}}}', id="username"),
    ],
)
def test_a_lone_surrogate_is_refused(header: str) -> None:
    result = parse_inject_header([header.encode()], 65536)
    assert result.context is None
    assert result.reason.is_error


def test_escaped_non_ascii_that_is_valid_unicode_is_kept() -> None:
    """The refusal above must not catch proper escapes (a surrogate *pair* is fine)."""
    header = json.dumps({"tenant": {"id": "t1", "code": "T1", "name": "Café 🚀"}}).encode()
    assert b"\\ud83d\\ude80" in header  # json.dumps escapes the emoji as a surrogate pair
    result = parse_inject_header([header], 65536)
    assert result.context is not None
    assert result.context.tenant.name == "Café 🚀"


@pytest.mark.parametrize(
    "geo",
    [
        pytest.param('{"lat": 1e308}', id="largest-exponent-still-finite"),
        pytest.param('{"lat": 1e-999}', id="underflow-is-zero"),
        pytest.param('{"id": "5f0a1b2c3e512d4e999f", "t": "x:1e999"}', id="exponents-in-strings"),
        pytest.param('{"n": "' + "9" * 400 + '"}', id="long-digit-string"),
        pytest.param('{"n": ' + "9" * 300 + "}", id="long-integer-is-an-int"),
    ],
)
def test_numbers_that_stay_finite_are_kept(geo: str) -> None:
    header = f'{{{TENANT}}}, "geo": {geo}}}'.encode()
    result = parse_inject_header([header], 65536)
    assert result.context is not None, result
    assert result.context.geo == json.loads(geo)
