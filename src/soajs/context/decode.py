"""Header text -> a plain JSON object, or the reason it is not one.

Fast path: pydantic-core's JSON parser (jiter, in Rust), with ``NaN`` and
``Infinity`` refused. It builds plain ``dict``/``list`` values about a third
faster than :func:`json.loads`; freezing is left to the context mapping
(:mod:`soajs.models._lazy`), which freezes lazily.

Anything jiter refuses goes through the standard library decoder, which says
*why* (``NOT_JSON`` with a position, ``NON_FINITE_NUMBER``, ``DUPLICATE`` for two
values glued by a comma, ``TOO_DEEP`` on a recursion error), exactly as before
the fast path existed, and which also accepts the few inputs jiter refuses
but JSON allows (lone surrogate escapes). So the fast path changes speed,
never outcomes.

Two values that decode but cannot be sent back by a handler are refused: a
number too large for a float (``1e999`` becomes ``inf``: ``NON_FINITE_NUMBER``,
like ``NaN``) and the escape of a lone surrogate (``\\ud800``: ``NOT_UTF8``).
An integer longer than Python converts (``sys.get_int_max_str_digits()``,
4,300 digits by default) is ``INTEGER_TOO_LONG``.

Depth (:data:`MAX_DEPTH`) is checked on the text, only when it has more
opening brackets than the limit: see :func:`_too_deep`. So is the number of
values (:data:`MAX_ELEMENTS`), only when the text has more commas and opening
brackets than the limit: each value costs memory and CPU in the context
(tens to hundreds of bytes for three bytes of ``{},``), so the count, not the
byte size, is what bounds them.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from pydantic_core import from_json

from soajs.context.reasons import Reason

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "DecodeError",
    "count_upper_bound",
    "decode_counted",
    "decode_object",
]

#: Deeper nesting than this is refused (a real header is about 10 deep). The exact
#: check runs only when the header has more opening brackets than this.
MAX_DEPTH = 64

#: More JSON values than this (objects, arrays, strings, numbers... counted once
#: each, keys not counted) are refused. The real gateway header holds about one
#: value per 17 bytes (77 in 1,289 bytes), about 4,000 at the 64 KiB cap; a
#: hostile one of ``{},`` holds 21,800.
MAX_ELEMENTS = 16384


class DecodeError(Exception):
    """Why the header is not a usable JSON object: a reason and a content-free detail."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


class _NonFinite(ValueError):
    pass


class _IntTooLong(ValueError):
    pass


def _bounded_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        raise _IntTooLong(len(text.lstrip("-"))) from None


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: a number too large for a float
        raise _NonFinite(text)
    return value


_STDLIB = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
)


def decode_object(raw: bytes, text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (``raw`` is its UTF-8 bytes); raises :class:`DecodeError`."""
    return decode_counted(raw, text)[0]


def decode_counted(raw: bytes, text: str) -> tuple[dict[str, Any], int]:
    """:func:`decode_object`, and :func:`count_upper_bound` of ``raw`` (counted anyway)."""
    try:
        data = from_json(text, allow_inf_nan=False)
    except ValueError:
        data = _stdlib_decode(text)  # says why, or accepts what jiter alone refuses
        marks = None
    else:
        # jiter turns a number too large for a float (1e999) into inf: when the text
        # may hold one, the standard library decoder, which sees every number, decides
        marks = raw.translate(_MARKS)
        if _may_overflow(marks):
            data = _stdlib_decode(text)
    if type(data) is not dict:
        raise DecodeError(Reason.NOT_AN_OBJECT, f"a JSON {_json_kind(data)}")
    if marks is None:
        marks = raw.translate(_MARKS)
    opens = marks.count(b"(")  # "{" and "["
    if opens > MAX_DEPTH and _too_deep(raw):
        raise DecodeError(Reason.TOO_DEEP, f"more than {MAX_DEPTH} levels")
    values = 1 + opens + marks.count(b",")
    if values > MAX_ELEMENTS and _count_values(raw) > MAX_ELEMENTS:
        raise DecodeError(Reason.TOO_MANY_ELEMENTS, f"more than {MAX_ELEMENTS} values")
    return data, values


def count_upper_bound(raw: bytes) -> int:
    """At least the number of JSON values in ``raw`` (commas and opening brackets, plus one)."""
    return 1 + raw.count(b",") + raw.count(b"{") + raw.count(b"[")


def _stdlib_decode(text: str) -> Any:
    try:
        data, end = _STDLIB.raw_decode(text)
    except _NonFinite:
        raise DecodeError(Reason.NON_FINITE_NUMBER) from None
    except _IntTooLong as exc:
        raise DecodeError(
            Reason.INTEGER_TOO_LONG,
            f"{exc.args[0]} digits, more than {sys.get_int_max_str_digits()}",
        ) from None
    except RecursionError:
        raise DecodeError(Reason.TOO_DEEP) from None
    except ValueError as exc:
        raise DecodeError(Reason.NOT_JSON, _json_position(exc)) from None
    rest = text[end:].lstrip()
    if rest:
        reason = Reason.DUPLICATE if rest.startswith(",") else Reason.NOT_JSON
        raise DecodeError(reason, "data after the JSON value")
    if "\\u" in text:
        # JSON allows the escape of a lone surrogate (\ud800), which jiter refuses;
        # the str it gives cannot be encoded again, so a handler echoing it would fail.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError(Reason.NOT_UTF8, "a lone surrogate escape") from None
    return data


def _marks_table() -> bytes:
    table = bytearray(b"x" * 256)
    for byte in b"0123456789.+":
        table[byte] = ord("0")
    for byte in b"eE":
        table[byte] = ord("e")
    for byte in b" \t\r\n":
        table[byte] = ord(":")
    for byte in b"{[":
        table[byte] = ord("(")
    for byte in b":,-":
        table[byte] = byte
    return bytes(table)


# One translation of the text serves the overflow check and the counts of
# opening brackets and commas. Digits, the decimal point and "+" become "0",
# "E" becomes "e", white space ":" (a separator, like the ":" , "[" and "-" a
# number can follow), "{" and "[" become "(", every other byte "x": a number
# too large for a float then reads ``[:,(-]0+e000`` or has 309+ digits.
# (Mapping the other bytes to one that shares nothing with the needles keeps
# ``find`` on its fast path: a text of "p" made CPython's search 6 times
# slower, "p" and "0" colliding in its filter.)
_MARKS = _marks_table()
_TOO_MANY_DIGITS = b"0" * 309
_ZERO = ord("0")
_BEFORE_A_NUMBER = b":,(-"
#: Candidates looked at before the standard library decoder is asked instead.
_MAX_CANDIDATES = 8


def _may_overflow(marks: bytes) -> bool:
    """False when no number in the JSON whose :data:`_MARKS` translation is
    ``marks`` can be too large for a float.

    C-level bytes operations, plus a short walk back over the digits of at
    most :data:`_MAX_CANDIDATES` ``0e000`` found (a text full of them, in
    strings, says "maybe" rather than costing a Python loop per match); a true
    answer (rare: an exponent of three digits or more in a number, a run of
    309 digits, or such text inside a string) is settled by the standard
    library decoder, which sees every number.
    """
    at = marks.find(b"0e000")
    for _ in range(_MAX_CANDIDATES):
        if at == -1:
            return _TOO_MANY_DIGITS in marks
        start = at
        while start and marks[start - 1] == _ZERO:
            start -= 1
        if start and marks[start - 1] in _BEFORE_A_NUMBER:
            return True
        at = marks.find(b"0e000", at + 5)
    return True


def _json_kind(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _json_position(exc: ValueError) -> str:
    # JSONDecodeError's msg and position say where, never what: no content leaks.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at position {exc.pos}"
    return type(exc).__name__


_ALL_BUT_BRACKETS_AND_QUOTES = bytes(range(256)).translate(None, b'{}[]"')
_BRACKETS_TO_PARENS = bytes.maketrans(b"{}[]", b"()()")


def _scalar_marks() -> bytes:
    table = bytearray(b"v" * 256)  # any byte of a number, true, false or null
    for byte in b'{}[],"':
        table[byte] = byte
    return bytes(table)


_SCALARS_TO_V = _scalar_marks()
_SPACE_AND_COLON = b" \t\r\n:"


def _count_values(raw: bytes) -> int:
    """The exact number of values in the *valid* JSON ``raw`` (keys not counted).

    As :func:`_too_deep` does: drop escaped backslashes and quotes, so every
    quote left opens or closes a string; drop white space and colons, mark
    every byte of a number or literal ``v``; cut at the quotes and put one
    ``v`` where each string was. Every value is the root, follows a comma, or
    is the first item of a non-empty container (an empty one reads ``{}`` or
    ``[]``; one holding a value, ``[v]``).
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(_SCALARS_TO_V, _SPACE_AND_COLON)
    structure = b"v".join(marks.split(b'"')[::2])
    opens = structure.count(b"{") + structure.count(b"[")
    empty = structure.count(b"{}") + structure.count(b"[]")
    return 1 + structure.count(b",") + opens - empty


def _too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the *valid* JSON ``raw`` nests containers deeper than ``limit``.

    Works on the text with C-level bytes operations only (no walk of the
    decoded data, no recursion):

    1. drop escaped backslashes, then escaped quotes (valid JSON pairs escapes
       left to right, as ``bytes.replace`` does), so every remaining ``"``
       opens or closes a string;
    2. keep only quotes and brackets, brackets as ``(`` / ``)``;
    3. drop the strings: a string without brackets is now ``""``, and pairing
       quotes left to right (as ``bytes.count`` does) pairs them all exactly
       when no string holds a bracket (the first string holding one leaves its
       opening quote unpaired): then deleting the quotes leaves the structure;
       otherwise cut at every quote and keep the pieces outside strings;
    4. what is left is the balanced bracket structure: each pass removing
       every ``()`` removes exactly the innermost level, so the structure is
       deeper than the limit iff something is left after ``limit`` passes;
       and since the depth is at most the passes done plus the containers
       left, the loop stops early, usually after a pass or two.
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(_BRACKETS_TO_PARENS, _ALL_BUT_BRACKETS_AND_QUOTES)
    if marks.count(b'""') * 2 == marks.count(b'"'):
        structure = marks.translate(None, b'"')  # every string was a bare ""
    else:
        structure = b"".join(marks.split(b'"')[::2])
    for done in range(limit):
        # depth <= passes done + containers left: stop as soon as that is small
        if done + len(structure) // 2 <= limit:
            return False
        structure = structure.replace(b"()", b"")
    return bool(structure)
