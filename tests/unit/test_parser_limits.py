"""Limits of the parse, each with its own reason, and a parse that freezes once.

Issue 12: unknown keys were deep-frozen twice (43,604 ``freeze`` calls for
21,800 elements); integers over 4,300 digits came out as ``not_json`` with
detail ``ValueError``; nothing bounded the number of values or of typed
interConnect entries.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import pytest
from benchmarks._hostile import SHAPES, hostile_header, json_text
from hypothesis import given, settings
from hypothesis import strategies as st

from soajs.context import ContextResolver, Reason, parse_inject_header
from soajs.context.decode import MAX_ELEMENTS, _count_values, count_upper_bound
from soajs.context.parser import MAX_INTERCONNECT
from soajs.context.reasons import ReasonLog
from soajs.models import _base

T = '"tenant":{"id":"t","code":"T"}'
CAP = 1 << 20


def parse(text: str) -> Any:
    return parse_inject_header([text.encode()], CAP)


def test_an_integer_over_the_digit_limit_has_its_own_reason() -> None:
    limit = sys.get_int_max_str_digits()
    result = parse("{" + T + ',"geo":{"n":' + "9" * (limit + 1) + "}}")
    assert result.reason is Reason.INTEGER_TOO_LONG
    assert result.detail == f"{limit + 1} digits, more than {limit}"
    negative = parse("{" + T + ',"geo":{"n":-' + "9" * (limit + 1) + "}}")
    assert negative.reason is Reason.INTEGER_TOO_LONG
    ok = parse("{" + T + ',"geo":{"n":' + "9" * limit + "}}")
    assert ok.reason is Reason.OK


def test_values_are_counted_exactly_at_the_limit() -> None:
    def with_items(n: int) -> str:  # the root, tenant, its id and code, param, x: 6 values
        return "{" + T + ',"param":{"x":[' + ",".join(["1"] * n) + "]}}"

    assert parse(with_items(MAX_ELEMENTS - 6)).reason is Reason.OK
    refused = parse(with_items(MAX_ELEMENTS - 5))
    assert refused.reason is Reason.TOO_MANY_ELEMENTS
    assert refused.detail == f"more than {MAX_ELEMENTS} values"
    # empty containers are one value each, commas inside strings are none
    assert parse("{" + T + ',"x":[' + ",".join(["{}"] * (MAX_ELEMENTS - 5)) + "]}").reason is (
        Reason.OK
    )
    commas = json.dumps("," * 3 * MAX_ELEMENTS + '\\"[{')
    assert parse("{" + T + ',"param":{"s":' + commas + "}}").reason is Reason.OK


def test_interconnect_entries_are_bounded() -> None:
    def entries(n: int) -> str:
        return "{" + T + ',"awareness":{"interConnect":[' + ",".join(["{}"] * n) + "]}}"

    assert parse(entries(MAX_INTERCONNECT)).reason is Reason.OK
    refused = parse(entries(MAX_INTERCONNECT + 1))
    assert refused.reason is Reason.TOO_MANY_INTERCONNECT
    assert str(MAX_INTERCONNECT) in refused.detail


def test_unknown_fields_are_frozen_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = _base.freeze

    def counting(value: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(value)

    monkeypatch.setattr(_base, "freeze", counting)
    n = 2000
    members = ",".join(f'"k{i}":[{{}}]' for i in range(n))
    result = parse('{"tenant":{"id":"t","code":"T",' + members + "}}")
    assert result.reason is Reason.OK
    assert result.context is not None
    assert result.context.tenant.k5 == ({},)
    # one call per container (a list and its {}), for the 2,000 unknown members
    assert n <= calls <= 2 * n + 16


@pytest.mark.parametrize("shape", list(SHAPES))
def test_hostile_64k_headers_cost_a_bounded_multiple_of_their_decode(shape: str) -> None:
    """A generous sanity bound only; the measured multiple is benchmarks/bench_hostile.py's."""
    resolver = ContextResolver(trusted_gateways="*", cache_size=0)
    loads: list[float] = []
    ours: list[float] = []
    for nonce in range(5):
        raw = hostile_header(shape, 65536, nonce)
        text = json_text(raw)  # percent-decoded first for the pct_* shapes
        t0 = time.perf_counter()
        json.loads(text)
        t1 = time.perf_counter()
        resolver.resolve([raw], None)
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        ours.append(t2 - t1)
    # absolute floor: the 256 typed interConnect entries (~0.25 ms) on a cheap decode
    assert min(ours) <= 30 * min(loads) + 0.002, (shape, min(ours), min(loads))


def test_a_storm_of_details_is_one_line_per_reason_then_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.context")
    log = ReasonLog(0.2)
    for i in range(8000):
        log(Reason.NOT_JSON, f"Expecting value at position {i}")
        log(Reason.TOO_LARGE, f"{70000 + i} > 65536 bytes")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    time.sleep(0.25)
    log(Reason.NOT_JSON, "Expecting value at position 1")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "7999 more since the last line" in lines[-1]
    assert "reason=not_json" in lines[-1]


def _values(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_values(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_values(v) for v in value)
    return 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab,[]{}"\\: é', max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans(), st.booleans())
def test_values_counted_on_the_text_match_the_decoded_data(
    value: Any, compact: bool, ascii_only: bool
) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    raw = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    assert _count_values(raw) == _values(value)
    assert count_upper_bound(raw) >= _values(value)


def test_containers_of_one_value_count_their_value() -> None:
    # 9,000 [1] and 9,000 ["s"]: 18,000+ values, whatever the first count says
    for item in ("[1]", '["s"]', '{"k":null}'):
        text = "{" + T + ',"param":{"x":[' + ",".join([item] * 9000) + "]}}"
        assert parse(text).reason is Reason.TOO_MANY_ELEMENTS, item
