"""The decoder: the text-only depth check agrees with a walk, jiter agrees with the stdlib."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context.decode import MAX_DEPTH, DecodeError, _stdlib_decode, _too_deep, decode_object
from soajs.context.reasons import Reason

_text = st.text(alphabet='ab[]{}"\\/\n\u00e9', max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=25,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(_json, st.booleans())
def test_text_depth_matches_the_decoded_depth(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    real = depth(value)
    for limit in range(8):
        assert _too_deep(raw, limit) is (real > limit), (raw, limit, real)


# -- the fast decoder changes speed, never outcomes ------------------------------------
def stdlib_only(raw: bytes, text: str) -> tuple[str, Any]:
    """What decode_object gives when only the standard library decoder is used."""
    try:
        data = _stdlib_decode(text)
        if type(data) is not dict:
            raise DecodeError(Reason.NOT_AN_OBJECT, "")
        if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _too_deep(raw):
            raise DecodeError(Reason.TOO_DEEP, "")
    except DecodeError as exc:
        return exc.reason.value, None
    return "ok", data


def outcome(raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode_object(raw, raw.decode("utf-8"))
    except DecodeError as exc:
        return exc.reason.value, None


_tricky = st.sampled_from(
    ["NaN", "-Infinity", "1e400", "-0", "01", '"\\ud800"', '"\\u00e9"', '"\\x"', "[1,]", '"\t"']
)


@settings(max_examples=500, deadline=None)
@given(_json, st.lists(_tricky, max_size=2), st.sampled_from(["", " ", ",{}", "x", "\n"]))
def test_fast_decoder_agrees_with_the_standard_library(
    value: Any, tricks: list[str], tail: str
) -> None:
    text = json.dumps({"v": value}, ensure_ascii=False)
    for trick in tricks:  # splice a hand-picked oddity in as another member
        text = text[:-1] + f', "t": {trick}' + "}"
    text += tail
    raw = text.encode("utf-8", "surrogatepass")
    if raw != text.encode("utf-8", "ignore"):
        return  # lone surrogate characters (not escapes) are refused as not UTF-8 earlier
    assert outcome(raw) == stdlib_only(raw, text)


def test_deep_and_odd_inputs_agree() -> None:
    for text in ["[" * 300 + "]" * 300, '{"a":' * 100 + "1" + "}" * 100, "[" * 5000, "{}"]:
        raw = text.encode()
        assert outcome(raw) == stdlib_only(raw, text)
