"""The structural scan drops escapes one by one when they are few, by replace when many.

A 64 KiB header with one escape (``\\ud83d\\ude80`` in a long string, percent-encoded
or not) spent 95 µs in two ``bytes.replace`` (two-byte searches over the whole
text), more than decoding it: bench_hostile's ``pct_escaped_wide`` cost 7.6
times ``json.loads`` of its JSON. Both ways must give the same structure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context import decode
from soajs.context.decode import _count_values, _scan, _too_deep, _without_escapes

_json = st.recursive(
    st.none() | st.integers() | st.text(alphabet='ab,[]{}"\\/:\n\t é\U0001f680\x01', max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=60,
)


@settings(max_examples=500, deadline=None)
@given(_json, st.booleans())
def test_few_and_many_escapes_give_the_same_structure(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    few = (_scan(raw)[:2], _count_values(raw), _too_deep(raw, 3))
    saved = decode._FEW_ESCAPES
    decode._FEW_ESCAPES = 0  # every text takes the replace path
    try:
        many = (_scan(raw)[:2], _count_values(raw), _too_deep(raw, 3))
    finally:
        decode._FEW_ESCAPES = saved
    assert few == many, raw


@pytest.mark.parametrize(
    ("raw", "left"),
    [
        (b'{"a":"x\\"y"}', b'{"a":"xy"}'),
        (b'{"a":"x\\\\"}', b'{"a":"x"}'),
        (b'{"a":"\\\\\\""}', b'{"a":""}'),
        (b'{"a":"\\u00e9\\n"}', b'{"a":"00e9"}'),
    ],
)
def test_an_escape_is_cut_out_whole(raw: bytes, left: bytes) -> None:
    assert _without_escapes(raw) == left
