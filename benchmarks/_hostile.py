"""Hostile ``soajsinjectobj`` headers of a given size, for the benchmark and the fault tests.

Each shape packs as many small JSON values as fit in ``size`` bytes into a
part of the header the context keeps (or decodes and drops), the way an
attacker who reaches the service would: many ``{}``, wide objects, deep-ish
arrays, long strings, numbers, unknown keys. ``nonce`` makes the bytes
distinct (a cache never sees the same header twice).

Shapes named ``*_refused`` are over a limit (too many values) and must be
refused after decoding; the others are accepted as contexts.

Shapes named ``pct_*`` are percent-encoded (``%7B...``, which the parser
accepts as PROTOCOL.md asks): their strings decode to characters stored four
bytes wide (``%F0%9F%9A%80``, ``%5Cud83d%5Cude80``), or their every byte is an
escape (the percent-decoding's worst case). The tenant stays as is, so a nonce
can be swapped in the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, unquote_to_bytes

from soajs.context.decode import MAX_ELEMENTS

__all__ = [
    "ACCEPTED",
    "PERCENT_SHAPES",
    "PLAIN_ACCEPTED",
    "SHAPES",
    "hostile_header",
    "json_text",
]

_Filler = Callable[[int], str]


def _tenant(nonce: int) -> str:
    return f'"tenant":{{"id":"t{nonce}","code":"HOSTILE"'


def _fill(size: int, make: Callable[[int], str], limit: int) -> str:
    """``make(n)`` for the largest ``n <= limit`` that fits in ``size`` bytes."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(make(mid).encode()) <= size:
            lo = mid
        else:
            hi = mid - 1
    return make(lo)


def _pad(text: str, size: int, nonce: int) -> bytes:
    """``text`` (a JSON object) with a padding member, to exactly ``size`` bytes if it fits."""
    raw = text.encode()
    room = size - len(raw) - len(',"pad":""')
    if room > 0:
        raw = raw[:-1] + b',"pad":"' + b"p" * room + b'"}'
    return raw


# How many values each shape may use: a context shape stays under MAX_ELEMENTS.
_UNDER = MAX_ELEMENTS - 64


def _profile_empty_objects(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        return "{" + _tenant(nonce) + ',"profile":{"x":[' + ",".join(["{}"] * n) + "]}}}"

    return _fill(size, make, _UNDER)


def _profile_wide_object(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        members = ",".join(f'"{i}":{{}}' for i in range(n))
        return "{" + _tenant(nonce) + ',"profile":{' + members + "}}}"

    return _fill(size, make, _UNDER // 2)


def _unknown_tenant_keys(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        members = ",".join(f'"k{i}":[{{}}]' for i in range(n))
        return "{" + _tenant(nonce) + "," + members + "}}"

    return _fill(size, make, _UNDER // 2)


def _unknown_key_empty_objects(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        return "{" + _tenant(nonce) + ',"x":[' + ",".join(["{}"] * n) + "]}}"

    return _fill(size, make, _UNDER)


def _unknown_key_small_objects(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(f'{{"a":{i}}}' for i in range(n))
        return "{" + _tenant(nonce) + ',"x":[' + items + "]}}"

    return _fill(size, make, _UNDER // 2)


def _unknown_top_keys(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        members = ",".join(f'"k{i}":[{{}}]' for i in range(n))
        return "{" + _tenant(nonce) + "}," + members + "}"

    return _fill(size, make, _UNDER // 2)


def _param_deep_arrays(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(["[[[[[[[[[[1]]]]]]]]]]"] * n)
        return "{" + _tenant(nonce) + '},"param":{"x":[' + items + "]}}"

    return _fill(size, make, _UNDER // 11)  # ten arrays and a number each


def _param_long_strings(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(json.dumps(f"{i:06d}" + "s" * 994) for i in range(n))
        return "{" + _tenant(nonce) + '},"param":{"x":[' + items + "]}}"

    return _fill(size, make, _UNDER)


def _param_wide_strings(size: int, nonce: int) -> str:
    """Strings of ASCII with one emoji each: stored four bytes a character."""

    def make(n: int) -> str:
        items = ",".join(json.dumps(f"{i:06d}" + "w" * 200 + "\U0001f680", ensure_ascii=False)
                         for i in range(n))  # fmt: skip
        return "{" + _tenant(nonce) + '},"param":{"x":[' + items + "]}}"

    return _fill(size, make, _UNDER)


def _param_one_string(text: str, start: str = "") -> Callable[[int, int], str]:
    """One long string of ``text`` repeated (after ``start``): its decode is nearly a copy."""

    def shape(size: int, nonce: int) -> str:
        def make(n: int) -> str:
            return "{" + _tenant(nonce) + '},"param":{"s":"' + start + text * n + '"}}'

        return _fill(size, make, size)

    return shape


def _param_numbers(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(str(100000 + i) for i in range(n))
        return "{" + _tenant(nonce) + '},"param":{"x":[' + items + "]}}"

    return _fill(size, make, _UNDER)


def _urac_groups(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(f'"g{i}"' for i in range(n))
        return "{" + _tenant(nonce) + '},"urac":{"_id":"u","groups":[' + items + "]}}"

    return _fill(size, make, _UNDER)


def _interconnect(size: int, nonce: int) -> str:
    from soajs.context.parser import MAX_INTERCONNECT

    def make(n: int) -> str:
        items = ",".join(["{}"] * n)
        return "{" + _tenant(nonce) + '},"awareness":{"interConnect":[' + items + "]}}"

    return _fill(size, make, MAX_INTERCONNECT)


def _empty_objects_refused(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        return "{" + _tenant(nonce) + ',"profile":{"x":[' + ",".join(["{}"] * n) + "]}}}"

    return _fill(size, make, 10 * MAX_ELEMENTS)


def _numbers_refused(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        return "{" + _tenant(nonce) + '},"param":{"x":[' + ",".join(["1"] * n) + "]}}"

    return _fill(size, make, 10 * MAX_ELEMENTS)


def _pct_one_string(start: str, text: str) -> Callable[[int, int], str]:
    """A percent-encoded header with one long string: ``start`` then ``text`` repeated."""

    def shape(size: int, nonce: int) -> str:
        def make(n: int) -> str:
            return "%7B" + _tenant(nonce) + '},"param":{"s":"' + start + text * n + '"}}'

        return _fill(size, make, size)

    return shape


def _urac_encoded_name(size: int, nonce: int) -> str:
    """``urac.firstName`` is percent-encoded (PROTOCOL.md): one of ``%41`` escapes only."""

    def make(n: int) -> str:
        return "{" + _tenant(nonce) + '},"urac":{"_id":"u","firstName":"' + "%41" * n + '"}}'

    return _fill(size, make, size)


def _pct_wide_strings(size: int, nonce: int) -> str:
    def make(n: int) -> str:
        items = ",".join(f'"{i:06d}' + "w" * 200 + '%F0%9F%9A%80"' for i in range(n))
        return "%7B" + _tenant(nonce) + '},"param":{"x":[' + items + "]}}"

    return _fill(size, make, _UNDER)


def _pct_full_objects(size: int, nonce: int) -> str:
    """Every byte after the tenant percent-encoded: ``{},`` is nine bytes."""

    def make(n: int) -> str:
        rest = quote(',"profile":{"x":[' + ",".join(["{}"] * n) + "]}}", safe="")
        return "%7B" + _tenant(nonce) + rest + "}"

    return _fill(size, make, _UNDER)


SHAPES: dict[str, Callable[[int, int], str]] = {
    "profile_empty_objects": _profile_empty_objects,
    "profile_wide_object": _profile_wide_object,
    "unknown_tenant_keys": _unknown_tenant_keys,
    "unknown_key_empty_objects": _unknown_key_empty_objects,
    "unknown_key_small_objects": _unknown_key_small_objects,
    "unknown_top_keys": _unknown_top_keys,
    "param_deep_arrays": _param_deep_arrays,
    "param_long_strings": _param_long_strings,
    "param_wide_strings": _param_wide_strings,
    "string_of_exponents": _param_one_string("1e000"),
    "string_of_p": _param_one_string("p"),
    "string_one_escape": _param_one_string("p", "\\ud83d\\ude80"),
    "param_numbers": _param_numbers,
    "urac_groups": _urac_groups,
    "urac_encoded_name": _urac_encoded_name,
    "interconnect_max": _interconnect,
    "empty_objects_refused": _empty_objects_refused,
    "numbers_refused": _numbers_refused,
    "pct_wide_string": _pct_one_string("%F0%9F%9A%80", "w"),
    "pct_escaped_wide": _pct_one_string("%5Cud83d%5Cude80", "w"),
    "pct_wide_strings": _pct_wide_strings,
    "pct_one_string": _pct_one_string("", "%41"),
    "pct_full_objects": _pct_full_objects,
}

#: The shapes that must give a context (the others are refused).
ACCEPTED = tuple(name for name in SHAPES if not name.endswith("_refused"))
#: The percent-encoded ones (accepted too).
PERCENT_SHAPES = tuple(name for name in ACCEPTED if name.startswith("pct_"))
#: The accepted shapes sent as plain JSON.
PLAIN_ACCEPTED = tuple(name for name in ACCEPTED if name not in PERCENT_SHAPES)


def json_text(raw: bytes) -> bytes:
    """The JSON a header carries: ``raw`` itself, or what a ``%7B...`` one decodes to."""
    return unquote_to_bytes(raw) if raw[:3].upper() == b"%7B" else raw


def hostile_header(shape: str, size: int = 65536, nonce: int = 0) -> bytes:
    """The ``shape`` header, ``size`` bytes at most (padded up to it when it fits)."""
    return _pad(SHAPES[shape](size - 64, nonce), size, nonce)
