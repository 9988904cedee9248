"""The context cache is bounded in bytes, charging each entry what its context holds.

Finding 1 of issue 12: 1,300 distinct 64 KiB headers took a worker from 56 MiB
to 1,775 MiB, the cache being bounded by its number of entries only.
"""

from __future__ import annotations

import json

import pytest
from benchmarks._hostile import ACCEPTED, hostile_header
from benchmarks._sizes import deep_size

from soajs.context import ContextResolver, Reason, parse_inject_header
from soajs.context.cache import DEFAULT_CACHE_BYTES, ContextCache, entry_cost
from tests.conftest import FIXTURES

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()


@pytest.mark.parametrize("size", [4096, 16384, 65536])
@pytest.mark.parametrize("shape", ACCEPTED)
def test_an_entry_is_charged_at_least_what_its_context_holds(shape: str, size: int) -> None:
    raw = hostile_header(shape, size)
    result = parse_inject_header([raw], 65536)
    assert result.context is not None, (shape, result)
    held = deep_size(result.context) + len(raw)  # fully read, plus the key
    assert held <= entry_cost(raw, result), (shape, size)


def test_real_headers_are_charged_honestly_and_not_absurdly() -> None:
    unicode = json.dumps(
        {
            "tenant": {"id": "t", "code": "T", "name": "Café 東京 🚀" * 50},
            "urac": {"groups": ["ü"]},
        },
        ensure_ascii=False,
    ).encode()
    for raw in (RAW, unicode):
        result = parse_inject_header([raw], 65536)
        assert result.context is not None
        held = deep_size(result.context) + len(raw)
        assert held <= entry_cost(raw, result) <= 4 * held + 8192


def test_the_cache_stays_within_its_bytes_whatever_the_headers() -> None:
    cache = ContextCache(1024, max_bytes=8 * 1024 * 1024)
    for nonce in range(60):
        raw = hostile_header(ACCEPTED[nonce % len(ACCEPTED)], 65536, nonce)
        result = parse_inject_header([raw], 65536)
        cache.put(raw, result)
        assert cache.bytes <= cache.max_bytes
        assert len(cache._mirror) == len(cache)
    assert 0 < len(cache) < 60  # evicted by bytes long before 1024 entries


def test_an_entry_over_an_eighth_of_the_budget_is_not_cached() -> None:
    raw = hostile_header("profile_empty_objects", 65536)
    result = parse_inject_header([raw], 65536)
    cost = entry_cost(raw, result)
    small = ContextCache(16, max_bytes=cost * 8 - 1)
    small.put(raw, result)
    assert len(small) == 0
    big = ContextCache(16, max_bytes=cost * 8)
    big.put(raw, result)
    assert big.get(bytes(raw)) is result


def test_the_entry_count_still_bounds_too() -> None:
    cache = ContextCache(3)
    for i in range(10):
        raw = json.dumps({"tenant": {"id": f"t{i}", "code": "T"}}).encode()
        cache.put(raw, parse_inject_header([raw], 65536))
        assert len(cache) <= 3


def test_default_budget_setting_and_option(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ContextResolver(trusted_gateways="*").cache.max_bytes == DEFAULT_CACHE_BYTES
    monkeypatch.setenv("SOAJS_CONTEXT_CACHE_BYTES", "1048576")
    assert ContextResolver(trusted_gateways="*").cache.max_bytes == 1048576
    resolver = ContextResolver(trusted_gateways="*", cache_bytes=2048)
    assert resolver.cache.max_bytes == 2048
    resolver.resolve([RAW], None)
    assert len(resolver.cache) == 0  # the real header alone is over 2048 / 8
    disabled = ContextResolver(trusted_gateways="*", cache_bytes=0)
    assert disabled.resolve([RAW], None).reason is Reason.OK
    assert len(disabled.cache) == 0
