"""The context cache: a bounded cachetools LRU with lock-free hits, under real threads."""

from __future__ import annotations

import json
import threading

from soajs.context import Reason, parse_inject_header
from soajs.context.cache import ContextCache
from soajs.context.parser import ParseResult


def header(i: int) -> bytes:
    return json.dumps({"tenant": {"id": f"t{i}", "code": f"C{i}"}}).encode()


def result(i: int) -> ParseResult:
    parsed = parse_inject_header([header(i)], 65536)
    assert parsed.reason is Reason.OK
    return parsed


def fresh(raw: bytes) -> bytes:
    """An equal bytes object that is not the same object (as a server gives)."""
    return bytes(bytearray(raw))


def test_size_zero_disables() -> None:
    cache = ContextCache(0)
    cache.put(header(1), result(1))
    assert cache.get(header(1)) is None
    assert len(cache) == 0


def test_hits_are_exact_bytes_and_never_cross_tenants() -> None:
    cache = ContextCache(8)
    r1, r2 = result(1), result(2)
    cache.put(header(1), r1)
    cache.put(header(2), r2)
    for _ in range(3):  # the last-hit shortcut included
        assert cache.get(fresh(header(1))) is r1
        assert cache.get(fresh(header(2))) is r2
    assert cache.get(header(1) + b" ") is None
    assert cache.get(b"") is None


def test_bounded_and_evicts_least_recently_used() -> None:
    cache = ContextCache(3)
    results = {i: result(i) for i in range(5)}
    for i in (0, 1, 2):
        cache.put(header(i), results[i])
    assert cache.get(fresh(header(0))) is results[0]  # 0 is now the most recent
    cache.put(header(3), results[3])  # evicts 1, the least recently used
    assert len(cache) == 3
    assert cache.get(fresh(header(1))) is None
    assert cache.get(fresh(header(2))) is results[2]
    assert cache.get(fresh(header(0))) is results[0]
    cache.put(header(4), results[4])  # evicts 3 (2 and 0 were hit after it went in)
    assert cache.get(fresh(header(3))) is None
    assert len(cache._mirror) == len(cache) == 3  # evicted keys left the mirror too


def test_last_hit_shortcut_never_serves_an_evicted_entry() -> None:
    cache = ContextCache(1)
    r1 = result(1)
    cache.put(header(1), r1)
    assert cache.get(fresh(header(1))) is r1  # now the remembered last hit
    cache.put(header(2), result(2))  # evicts header(1)
    assert cache.get(fresh(header(1))) is None
    cache.clear()
    assert cache.get(fresh(header(2))) is None
    assert len(cache) == 0


def test_threads_hammering_a_small_cache() -> None:
    """Hits, misses, inserts and evictions from 8 threads: right results, bounded."""
    size, tenants, rounds = 16, 64, 3000
    cache = ContextCache(size)
    results = {i: result(i) for i in range(tenants)}
    errors: list[str] = []
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        start.wait()
        for n in range(rounds):
            i = (seed * 7 + n * (seed + 1)) % (tenants if n % 3 else 8)  # a hot set
            got = cache.get(fresh(header(i)))
            if got is None:
                cache.put(header(i), results[i])
            elif got is not results[i]:
                errors.append(f"thread {seed}: asked t{i}, got {got.context}")
            if len(cache._mirror) > size or len(cache) > size:
                errors.append("over the bound")

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= size
    assert set(cache._mirror) <= set(cache._lru or ())
