"""``urac.firstName`` / ``lastName`` decode as urllib's ``unquote(errors="strict")`` did.

The escapes are now decoded in C (:mod:`soajs.context.percent`) on the whole
UTF-8 text, where ``unquote`` decoded each run of ASCII and kept the other
characters; a 64 KiB name of ``%41`` cost 2.3 ms to read
(``tests/integration/test_hostile_cpu_pct.py``).
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context.fastpath import decode_names

PARTS = ["%", "%%", "%C3", "%A9", "%c3%a9", "%zz", "%4", "%41", "%E6%9D", "%B1", "%F0%9F%9A",
         "%80", "%FF", "a", " ", "+", "é", "東", "\U0001f680", "\x00", "\x7f",
         "\u0080"]  # fmt: skip


def old(value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value


@settings(max_examples=2000, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(PARTS), max_size=30).map("".join),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    st.text(max_size=20).map(quote),
))  # fmt: skip
def test_a_name_decodes_as_unquote_did(value: str) -> None:
    urac = {"firstName": value, "lastName": "x" + value}
    out = decode_names(urac)
    assert out["firstName"] == old(value)
    assert out["lastName"] == old("x" + value)
