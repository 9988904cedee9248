"""A bounded, thread-safe LRU of parse results keyed by the exact header bytes.

Storage, bounds and eviction are a cachetools ``LRUCache``, which is not
thread-safe: every write to it (insert, eviction, recency update) happens
under one lock, never around parsing and never across an ``await``. Results
are immutable, so one cached result may be handed to many requests; the key
is the whole header, so a hit never crosses tenants.

Hits do not take the lock. Next to the LRU sits a plain ``dict`` *mirror*
``key -> (result, stamp)`` that is only ever written under the same lock and
in step with the LRU: an entry enters the mirror right after it enters the
LRU and leaves it when the LRU deletes it (eviction included, through
``__delitem__``). So the mirror's keys are always a subset of the LRU's and
it is bounded by the same ``size``.

Why a lock-free read is safe:

* with the GIL, ``dict.get`` is one atomic bytecode-level operation: it sees
  the mirror before or after a locked write, never half of one;
* on free-threaded CPython (3.13t+), built-in ``dict`` reads are themselves
  thread-safe against concurrent writes (per-object locking for writers,
  safe lock-free lookups for readers), which is all the mirror relies on;
* the value read is an immutable ``(ParseResult, int)`` tuple: a reader that
  races an eviction gets a result that was valid an instant ago (it stays
  valid: results never change), never a torn one.

In front of the mirror, ``_last`` remembers the last hit ``(key, result,
stamp)`` as one immutable tuple, replaced whole (an atomic reference store).
A request whose header bytes equal its key gets its result after a
``memcmp`` instead of hashing 2 KB. It is used only while its stamp (the
insertion count read *before* the mirror lookup that produced it) still
equals the current count: every eviction comes with an insertion, so an
entry evicted since is never served from it.

Recency: a hit whose entry has not been refreshed since the last insertion
(``stamp != inserts``) refreshes it in the LRU under the lock; other hits
take no lock at all. Evictions happen only on insertions, so the eviction
order is exact LRU, except that among the entries hit since the last
insertion (all of them more recent than every other entry) the order is
that of their first hit rather than their last. In the gateway's steady
state (same headers again and again, no insertions) hits never lock.
"""

from __future__ import annotations

import threading
from typing import Any

from cachetools import LRUCache

from soajs.context.parser import ParseResult

__all__ = ["ContextCache"]

_Entry = tuple[ParseResult, int]


class _MirroredLRU(LRUCache[bytes, ParseResult]):
    """An ``LRUCache`` that removes deleted and evicted keys from ``mirror`` too."""

    def __init__(self, maxsize: int, mirror: dict[bytes, _Entry]) -> None:
        super().__init__(maxsize)
        self.mirror = mirror

    def __delitem__(self, key: bytes, cache_delitem: Any = LRUCache.__delitem__) -> None:
        cache_delitem(self, key)  # popitem (eviction) deletes through here
        self.mirror.pop(key, None)


class ContextCache:
    """``size`` entries at most; ``size=0`` disables caching."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._mirror: dict[bytes, _Entry] = {}
        self._lru = _MirroredLRU(size, self._mirror) if size > 0 else None
        self._lock = threading.Lock()
        self._inserts = 0  # written under the lock; read without it (one int)
        # The last hit, compared by bytes equality (a memcmp) before the mirror
        # lookup, which would hash the header: a new bytes object per request,
        # so its hash is never cached. Valid only while no insertion happened
        # since its stamp was read, so it never outlives an eviction.
        self._last: tuple[bytes, ParseResult | None, int] = (b"", None, -1)

    def get(self, key: bytes) -> ParseResult | None:
        inserts = self._inserts  # read before the lookups: see _last
        last = self._last
        if last[2] == inserts and last[0] == key:
            return last[1]
        entry = self._mirror.get(key)
        if entry is None:
            return None
        result = entry[0]
        if entry[1] != inserts:
            self._refresh(key)
        self._last = (key, result, inserts)
        return result

    def _refresh(self, key: bytes) -> None:
        lru = self._lru
        if lru is None:
            return
        with self._lock:
            try:
                result = lru[key]  # moves the key to the most-recent end
            except KeyError:  # evicted meanwhile: nothing to refresh
                return
            self._mirror[key] = (result, self._inserts)

    def put(self, key: bytes, result: ParseResult) -> None:
        lru = self._lru
        if lru is not None:
            with self._lock:
                lru[key] = result  # may evict (and un-mirror) the least recent entry
                self._inserts += 1
                self._mirror[key] = (result, self._inserts)

    def __len__(self) -> int:
        return 0 if self._lru is None else len(self._lru)

    def clear(self) -> None:
        if self._lru is not None:
            with self._lock:
                self._lru.clear()
                self._mirror.clear()
                self._inserts += 1  # invalidates _last
                self._last = (b"", None, -1)
