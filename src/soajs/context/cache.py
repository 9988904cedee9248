"""A bounded, thread-safe LRU of parse results keyed by the exact header bytes.

Two bounds: ``size`` entries and ``max_bytes`` of memory. Each entry is
charged what it holds (:func:`entry_cost`): the header bytes (the key, also
kept by the context for mesh calls), the parsed context (an upper bound
measured on hostile shapes: a 64 KiB header of ``{"a":1},`` comes to 21
times its size once read) and a fixed part for the models. An entry costing more than an
eighth of ``max_bytes`` is not cached at all, so a few huge headers cannot
flush the cache.

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

Admission (:meth:`ContextCache.admits`, asked by the resolver before it
inserts). While the cache has room, every parsed header goes in. Once it is
full, a header seen for the first time does not evict anything: its hash is
written in a fixed table of :data:`DOOR_SLOTS` integers (the "doorkeeper" of
TinyLFU), and it is admitted the next time it is seen. Under traffic where
nearly every header is new (more users than the cache holds, hostile
headers), inserting each one only to evict it unread cost more than parsing
it (a cold context to free, and the garbage collector walking thousands of
cached objects): 42 µs per 2 KB header with the cache on against 24 µs with
it off. A header seen twice is cached as before; one seen once never flushes
those.
"""

from __future__ import annotations

import threading
from array import array
from typing import Any

from cachetools import LRUCache

from soajs.context.decode import count_upper_bound
from soajs.context.fastpath import interconnect_count
from soajs.context.parser import ParseResult, text_bytes
from soajs.models._deferred import deferred_data

__all__ = ["DEFAULT_CACHE_BYTES", "ContextCache", "entry_cost"]

#: The default memory bound of the context cache (``SOAJS_CONTEXT_CACHE_BYTES``).
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024

# Upper bounds measured on CPython 3.11, 64-bit, with every lazily frozen level
# frozen (tests/unit/test_cache_bytes.py checks them against a deep size walk):
#: the models of a context and its cache entry, whatever the header;
ENTRY_OVERHEAD = 8192
#: one JSON value (counted as the commas and opening brackets of the text). The
#: worst measured is a one-key object in an array, ``{"a":"b"},`` (two marks),
#: about 424 bytes while the context keeps the decoded header (its fields built
#: on first read: until the last one is, the decoded containers and the frozen
#: copies of those read are both held) next to their frozen copies: 212 a value;
VALUE_BYTES = 256
#: one ``awareness.interConnect`` entry, a typed model (on top of its values).
INTERCONNECT_BYTES = 1024

_Entry = tuple[ParseResult, int]

#: Slots of the doorkeeper (hashes of headers refused once the cache was full):
#: 32 KiB, whatever the traffic. A collision only delays or hastens one admission.
DOOR_SLOTS = 4096


def entry_cost(key: bytes, result: ParseResult) -> int:
    """The bytes a cache entry holds, an upper bound (see the module docstring)."""
    context = result.context
    if context is None:  # a refusal: the key and a small result
        return 256 + len(key)
    # The key, then the decoded strings (text_bytes: one byte a character for
    # ASCII text, up to four when a string holds one character beyond U+FFFF),
    # measured on the JSON text: the key itself, or for a percent-encoded key
    # what it decodes to (the parser measured it: ``%F0%9F%98%80`` and ``%5C``
    # are ASCII in the key, not in the strings).
    text = result.text or text_bytes(key)
    values = result.values or count_upper_bound(key) + key.count(b"%")
    cost = ENTRY_OVERHEAD + len(key) + text + VALUE_BYTES * values
    # counted, not built (they are, on first read)
    return cost + INTERCONNECT_BYTES * interconnect_count(context) + _names_cost(context)


def _names_cost(context: Any) -> int:
    """``urac.firstName`` / ``lastName`` are percent-decoded into new strings when urac is
    built, next to the encoded ones the decoded header keeps until every field is:
    up to four bytes a character of the encoded name (``%F0%9F%98%80`` then ASCII)."""
    data = deferred_data(context)
    source = data.get("urac") if data is not None else None
    if type(source) is dict:  # not built: only an encoded name is decoded
        names = [source.get("firstName"), source.get("lastName")]
        return sum(4 * len(n) + 128 for n in names if isinstance(n, str) and "%" in n)
    urac = context.__dict__.get("urac")  # built: the decoded names (which were encoded?)
    names = [] if urac is None else [urac.first_name, urac.last_name]
    return sum(4 * len(n) + 128 for n in names if isinstance(n, str))


def _cost_of(value: tuple[ParseResult, int]) -> int:
    return value[1]


class _MirroredLRU(LRUCache[bytes, tuple[ParseResult, int]]):
    """An ``LRUCache`` of ``(result, cost)`` bounded by the sum of the costs, that
    removes deleted and evicted keys from ``mirror`` too."""

    def __init__(self, max_bytes: int, mirror: dict[bytes, _Entry]) -> None:
        super().__init__(max_bytes, getsizeof=_cost_of)
        self.mirror = mirror

    def __delitem__(self, key: bytes, cache_delitem: Any = LRUCache.__delitem__) -> None:
        cache_delitem(self, key)  # popitem (eviction) deletes through here
        self.mirror.pop(key, None)


class ContextCache:
    """``size`` entries and ``max_bytes`` bytes at most; either at 0 disables caching."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 8
        self._mirror: dict[bytes, _Entry] = {}
        enabled = size > 0 and max_bytes > 0
        self._lru = _MirroredLRU(max_bytes, self._mirror) if enabled else None
        self._lock = threading.Lock()
        self._inserts = 0  # written under the lock; read without it (one int)
        # The last hit, compared by bytes equality (a memcmp) before the mirror
        # lookup, which would hash the header: a new bytes object per request,
        # so its hash is never cached. Valid only while no insertion happened
        # since its stamp was read, so it never outlives an eviction.
        self._last: tuple[bytes, ParseResult | None, int] = (b"", None, -1)
        self._door = array("q", bytes(8 * DOOR_SLOTS)) if enabled else None
        # True while an entry of any admissible cost fits without an eviction; set
        # under the lock by put() and clear() (a plain bool read by admits())
        self._room = enabled

    def admits(self, key: bytes) -> bool:
        """True when a new entry for ``key`` should be inserted: always while the
        cache has room (no eviction needed), else only for a key refused once
        before (see the module docstring). Lock-free: a racing write of a slot
        at worst delays or hastens one admission."""
        if self._room:
            return True
        door = self._door
        if door is None:
            return False
        seen = hash(key)  # already computed (and kept by bytes) by the miss's lookup
        slot = seen % DOOR_SLOTS
        if door[slot] == seen:
            return True
        door[slot] = seen
        return False

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
                result = lru[key][0]  # moves the key to the most-recent end
            except KeyError:  # evicted meanwhile: nothing to refresh
                return
            self._mirror[key] = (result, self._inserts)

    def put(self, key: bytes, result: ParseResult) -> None:
        lru = self._lru
        if lru is None:
            return
        cost = entry_cost(key, result)  # outside the lock: it reads the key
        if cost > self.max_entry_bytes:
            return  # too big to be worth a slice of the cache
        with self._lock:
            # make room first (a reader never sees more than ``size`` entries), then
            # insert, which evicts (and un-mirrors) the least recent ones past max_bytes
            while len(lru) >= self.size and key not in lru:
                lru.popitem()
            lru[key] = (result, cost)
            self._inserts += 1
            self._mirror[key] = (result, self._inserts)
            self._room = (
                len(lru) < self.size and lru.currsize <= self.max_bytes - self.max_entry_bytes
            )

    def __len__(self) -> int:
        return 0 if self._lru is None else len(self._lru)

    @property
    def bytes(self) -> int:
        """The cost of what is cached now (at most ``max_bytes``)."""
        return 0 if self._lru is None else int(self._lru.currsize)

    def clear(self) -> None:
        if self._lru is not None:
            with self._lock:
                self._lru.clear()
                self._mirror.clear()
                self._inserts += 1  # invalidates _last
                self._last = (b"", None, -1)
                self._room = True
