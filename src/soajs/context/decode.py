"""Header bytes -> a plain JSON object, or the reason it is not one.

Fast path: msgspec's JSON decoder (C), which builds plain ``dict``/``list``
values about twice as fast as :func:`json.loads` and refuses, rather than
guesses, everything that needs a judgement: ``NaN``/``Infinity``, a number
out of range (``1e999``, which the standard library makes ``inf``; an integer
beyond what it converts), the escape of a lone surrogate, invalid UTF-8,
trailing data.

Anything it refuses goes through the standard library decoder, which says
*why* (``NOT_JSON`` with a position, ``NON_FINITE_NUMBER``, ``DUPLICATE`` for two
values glued by a comma, ``TOO_DEEP`` on a recursion error), exactly as before
the fast path existed, and which also accepts the few inputs msgspec refuses
but JSON allows (lone surrogate escapes, very long integers). So the fast path
changes speed, never outcomes (``tests/unit/test_decode_depth.py`` compares
both on generated texts).

Two values that decode but cannot be sent back by a handler are refused: a
number too large for a float (``1e999`` becomes ``inf``: ``NON_FINITE_NUMBER``,
like ``NaN``) and the escape of a lone surrogate (``\\ud800``: ``NOT_UTF8``).
An integer longer than Python converts (``sys.get_int_max_str_digits()``,
4,300 digits by default) is ``INTEGER_TOO_LONG``.

Depth (:data:`MAX_DEPTH`) and the number of values (:data:`MAX_ELEMENTS`) are
checked on the text, with one C-level pass that keeps only its structure
(brackets, quotes, commas): see :func:`_scan`. Each value costs memory and
CPU in the context (tens to hundreds of bytes for three bytes of ``{},``), so
the count, not the byte size, is what bounds them.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import msgspec

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
    # one of three fixed names (NaN, Infinity, -Infinity): no content leaks
    raise _NonFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999, or 5,000 digits: a number too large for a float
        raise _NonFinite(f"a number beyond the float range ({len(text)} characters)")
    return value


_STDLIB = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
)


def decode_object(raw: bytes, text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (``raw`` is its UTF-8 bytes); raises :class:`DecodeError`."""
    return decode_counted(raw, text)[0]


def decode_counted(raw: bytes, text: str | None = None) -> tuple[dict[str, Any], int]:
    """:func:`decode_object`, and an upper bound of the number of values in ``raw``
    (:func:`count_upper_bound`), or 0 for a text too short to be worth counting.
    ``raw`` must be valid UTF-8;
    ``text``, its decoding, is made only if the standard library decoder is needed."""
    try:
        data = _FAST.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        # says why, or accepts what msgspec alone refuses
        data = _stdlib_decode(text if text is not None else raw.decode("utf-8"))
    if type(data) is not dict:
        raise DecodeError(Reason.NOT_AN_OBJECT, f"a JSON {_json_kind(data)}")
    if len(raw) >= _FEW_VALUES_LEN:  # may hold too many values: the structure counts
        marks, parens, opens, values = _scan(raw)
        if opens > MAX_DEPTH and _structure_too_deep(marks, parens, MAX_DEPTH):
            raise DecodeError(Reason.TOO_DEEP, f"more than {MAX_DEPTH} levels")
        if values > MAX_ELEMENTS and _count_values(raw) > MAX_ELEMENTS:
            raise DecodeError(Reason.TOO_MANY_ELEMENTS, f"more than {MAX_ELEMENTS} values")
        return data, values
    # Too short to hold too many values; deeper than MAX_DEPTH needs more opening
    # brackets than that (those in strings included: an upper bound), counted by
    # what two replace() remove (about 5 instructions a byte of 2 KB; the structure
    # of _scan costs about 14, a translation deleting most bytes; bytes.count 6 a
    # call; each a fifth or more of msgspec's decode).
    if len(raw) - len(raw.replace(b"{", b"").replace(b"[", b"")) > MAX_DEPTH and _too_deep(
        raw, MAX_DEPTH
    ):
        raise DecodeError(Reason.TOO_DEEP, f"more than {MAX_DEPTH} levels")
    return data, 0  # 0: not counted (the cache counts the key if it keeps it)


#: Shorter texts cannot hold more than :data:`MAX_ELEMENTS` values: a value takes
#: one byte at least, and two values are apart by a comma or an opening bracket
#: (by induction, a value of v values takes 2v - 1 bytes at least).
_FEW_VALUES_LEN = 2 * MAX_ELEMENTS


_FAST = msgspec.json.Decoder()
_ALL_BUT_STRUCTURE = bytes(range(256)).translate(None, b'{}[]",')


def _scan(raw: bytes) -> tuple[bytes, bytes, int, int]:
    """The structure of the *valid* JSON ``raw``: its brackets, quotes and commas
    (escaped quotes and backslashes dropped first), its brackets alone as ``(`` and
    ``)`` (those in strings included), its number of opening brackets, and an upper
    bound of its number of values (1 + opening brackets + commas, those in strings
    included). One C-level pass over ``raw``, two over its (much shorter) structure."""
    if b"\\" in raw:
        raw = _without_escapes(raw)  # every quote left opens or closes a string
    marks = raw.translate(None, _ALL_BUT_STRUCTURE)
    parens = marks.translate(_BRACKETS_TO_PARENS, b'",')
    opens = parens.count(b"(")
    commas = len(marks) - len(parens) - marks.count(b'"')
    return marks, parens, opens, 1 + opens + commas


#: Up to this many backslashes, escapes are cut out one by one (a search for one byte
#: each); beyond, by two ``bytes.replace`` (whose two-byte searches cost about 0.7 ns a
#: byte of the text: 95 µs on 64 KiB, more than the decode, for a single escape).
_FEW_ESCAPES = 64


def _without_escapes(raw: bytes) -> bytes:
    """The *valid* JSON ``raw`` with its escaped quotes and backslashes removed.

    In valid JSON every backslash is in a string and starts an escape of one
    character (``\\\\``, ``\\"``, ``\\n``..., ``\\u`` and four hex digits),
    so escapes pair left to right: with few backslashes each escape is cut out
    (the backslash and the character after it: inside a string, so no
    structure is lost); with many, ``bytes.replace`` pairs them left to right
    the same way (escaped backslashes, then escaped quotes; the other escapes'
    backslashes stay, inside their strings).
    """
    parts: list[bytes] = []
    start = 0
    at = raw.find(b"\\")
    while at >= 0:
        if len(parts) == _FEW_ESCAPES:
            return raw.replace(b"\\\\", b"").replace(b'\\"', b"")
        parts.append(raw[start:at])
        start = at + 2
        at = raw.find(b"\\", start)
    parts.append(raw[start:])
    return b"".join(parts)


def count_upper_bound(raw: bytes) -> int:
    """At least the number of JSON values in ``raw`` (commas and opening brackets, plus one)."""
    return 1 + raw.count(b",") + raw.count(b"{") + raw.count(b"[")


def _stdlib_decode(text: str) -> Any:
    try:
        data, end = _STDLIB.raw_decode(text)
    except _NonFinite as exc:
        raise DecodeError(Reason.NON_FINITE_NUMBER, str(exc)) from None
    except _IntTooLong as exc:
        raise DecodeError(
            Reason.INTEGER_TOO_LONG,
            f"{exc.args[0]} digits, more than {sys.get_int_max_str_digits()}",
        ) from None
    except RecursionError:
        raise DecodeError(Reason.TOO_DEEP) from None
    except ValueError as exc:
        if text.lstrip(" \t\r\n").startswith("\ufeff"):
            raise DecodeError(Reason.NOT_JSON, _BOM) from None
        raise DecodeError(Reason.NOT_JSON, _json_position(exc)) from None
    rest = text[end:].lstrip()
    if rest:
        reason = Reason.DUPLICATE if rest.startswith(",") else Reason.NOT_JSON
        raise DecodeError(reason, "data after the JSON value")
    if "\\u" in text:
        # JSON allows the escape of a lone surrogate (\ud800), which msgspec refuses;
        # the str it gives cannot be encoded again, so a handler echoing it would fail.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError(Reason.NOT_UTF8, "a lone surrogate escape") from None
    return data


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


_BOM = "a byte order mark (U+FEFF) before the JSON text (RFC 8259 forbids one)"


def _json_position(exc: ValueError) -> str:
    # JSONDecodeError's msg and position say where, never what: no content leaks.
    # Some messages end with "at" ("Unterminated string starting at"): not twice.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg.removesuffix(' at')} at position {exc.pos}"
    return type(exc).__name__


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
        raw = _without_escapes(raw)
    marks = raw.translate(_SCALARS_TO_V, _SPACE_AND_COLON)
    structure = b"v".join(marks.split(b'"')[::2])
    opens = structure.count(b"{") + structure.count(b"[")
    empty = structure.count(b"{}") + structure.count(b"[]")
    return 1 + structure.count(b",") + opens - empty


def _too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the *valid* JSON ``raw`` nests containers deeper than ``limit``."""
    marks, parens, _, _ = _scan(raw)
    return _structure_too_deep(marks, parens, limit)


def _structure_too_deep(marks: bytes, parens: bytes, limit: int) -> bool:
    """True when the structure ``marks`` (:func:`_scan`, with ``parens`` its brackets)
    nests deeper than ``limit``.

    C-level bytes operations only (no walk of the decoded data, no recursion):

    1. keep only quotes and brackets, brackets as ``(`` / ``)``;
    2. drop the strings: a string without brackets is now ``""``, and pairing
       quotes left to right (as ``bytes.count`` does) pairs them all exactly
       when no string holds a bracket (the first string holding one leaves its
       opening quote unpaired): then the brackets alone (``parens``) are the
       structure; otherwise cut at every quote and keep the pieces outside
       strings;
    3. what is left is the balanced bracket structure: each pass removing
       every ``()`` removes exactly the innermost level, so the structure is
       deeper than the limit iff something is left after ``limit`` passes;
       and since the depth is at most the passes done plus the containers
       left, the loop stops early, usually after a pass or two.
    """
    quoted = marks.translate(_BRACKETS_TO_PARENS, b",")
    if quoted.count(b'""') * 2 == len(quoted) - len(parens):
        structure = parens  # every string was a bare ""
    else:
        structure = b"".join(quoted.split(b'"')[::2])
    for done in range(limit):
        # depth <= passes done + containers left: stop as soon as that is small
        if done + len(structure) // 2 <= limit:
            return False
        structure = structure.replace(b"()", b"")
    return bool(structure)
