"""The decoder's cheap bounds (counts of brackets and commas, the text's length) decide
as the structural scan they replaced: same reason for every input, old path vs new."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context import decode
from soajs.context.decode import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    DecodeError,
    _count_values,
    _scan,
    _structure_too_deep,
    decode_counted,
)

_text = st.text(alphabet='ab[]{},:"\\/\n\u00e9', max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=3),
    max_leaves=40,
)


def scan_reason(raw: bytes) -> str:
    """What the bounds of the structural scan (the old path) decided."""
    marks, parens, opens, values = _scan(raw)
    if opens > MAX_DEPTH and _structure_too_deep(marks, parens, MAX_DEPTH):
        return "too_deep"
    if values > MAX_ELEMENTS and _count_values(raw) > MAX_ELEMENTS:
        return "too_many_elements"
    return "ok"


def new_reason(raw: bytes) -> str:
    try:
        decode_counted(raw)
    except DecodeError as exc:
        return exc.reason.value
    return "ok"


@settings(max_examples=400, deadline=None)
@given(_json, st.booleans(), st.sampled_from(["", " ", "\n  "]))
def test_a_text_holds_at_most_half_its_length_in_values(
    value: Any, ascii_only: bool, indent: str
) -> None:
    """The lemma behind skipping the count: n bytes of JSON hold (n + 1) // 2 values."""
    raw = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":")).encode()
    assert _count_values(raw) <= (len(raw) + 1) // 2
    spaced = json.dumps(value, ensure_ascii=ascii_only, indent=indent or None).encode()
    assert _count_values(spaced) <= (len(spaced) + 1) // 2


def _shapes() -> list[bytes]:
    """Texts around both limits: deep, wide, both, in strings and not."""
    out = []
    for depth in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1):
        out.append(b'{"a":' + b"[" * depth + b"]" * depth + b"}")
        out.append(b'{"a":' * depth + b"1" + b"}" * depth)
        out.append(b'{"s":"' + b"[" * 200 + b'","v":' + b"[" * depth + b"]" * depth + b"}")
    for count in (MAX_ELEMENTS - 2, MAX_ELEMENTS - 1, MAX_ELEMENTS, MAX_ELEMENTS + 1):
        out.append(b'{"a":[' + b",".join([b"1"] * count) + b"]}")
        out.append(b'{"a":[' + b",".join([b"{}"] * (count // 2)) + b"]}")
        out.append(b'{"a":"' + b"," * count + b'"}')  # commas in a string are no values
        out.append(b'{"a":"' + b"[" * count + b'"}')
        out.append(b'{"a":[' + b", ".join([b'"x\\",y"'] * (count // 2)) + b"]}")
    return out


def test_limits_decide_as_the_structural_scan() -> None:
    for raw in _shapes():
        assert new_reason(raw) == scan_reason(raw), raw[:40]


@settings(max_examples=300, deadline=None)
@given(_json)
def test_generated_headers_decide_as_the_structural_scan(value: Any) -> None:
    raw = json.dumps({"v": value}).encode()
    assert new_reason(raw) == scan_reason(raw)
    _data, values = decode_counted(raw)
    if values:  # counted: an upper bound of the values, as the cache needs
        assert values >= _count_values(raw)
    else:  # not counted: too short to hold more than the limit
        assert len(raw) < decode._FEW_VALUES_LEN


def test_the_counted_bound_is_the_scans(monkeypatch: Any) -> None:
    """Where the text is long enough to be counted, the count is the scan's bound."""
    monkeypatch.setattr(decode, "_FEW_VALUES_LEN", 0)
    texts = [*_shapes(), b'{"a":"x\\"[,","b":[1,2,{"c":3}]}']
    accepted = [raw for raw in texts if new_reason(raw) == "ok"]
    assert len(accepted) > 10
    for raw in accepted:
        assert decode_counted(raw)[1] == _scan(raw)[3]
