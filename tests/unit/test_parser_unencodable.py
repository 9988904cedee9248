"""Headers that decode to values a handler cannot send back: the core must refuse them.

Both kinds are plain ASCII JSON, so the UTF-8 check and the NaN/Infinity check
let them through; found end to end by tests/integration/test_adapter_table.py.
"""

from __future__ import annotations

import json

import pytest

from soajs.context import Reason, parse_inject_header

TENANT = '"tenant": {"id": "t1", "code": "T1"'


@pytest.mark.xfail(
    strict=True,
    reason="BUG: parser.py refuses the literals NaN/Infinity (parse_constant) but not a number "
    "that overflows to inf (1e999): json.loads gives float('inf')",
)
@pytest.mark.parametrize("number", ["1e999", "-1e999", "1.5e400"])
def test_a_float_that_overflows_to_infinity_is_refused(number: str) -> None:
    header = f'{{{TENANT}}}, "geo": {{"lat": {number}}}}}'.encode()
    result = parse_inject_header([header], 65536)
    assert result.context is None
    assert result.reason is Reason.NON_FINITE_NUMBER


@pytest.mark.xfail(
    strict=True,
    reason="BUG: parser.py decodes the JSON escape of a lone surrogate (\\ud800) into a str "
    "that cannot be encoded to UTF-8 (Starlette's JSONResponse then fails with a 500)",
)
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
