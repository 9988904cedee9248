"""The text-only depth check agrees with a walk of the decoded data."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context.decode import _too_deep

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
