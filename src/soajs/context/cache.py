"""A bounded, thread-safe LRU of parse results keyed by the exact header bytes.

cachetools caches are not thread-safe; this one takes a lock around each
get and put (never around parsing, never across an ``await``). Results are
immutable, so one cached context may be handed to many requests; the key is
the whole header, so a hit never crosses tenants.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache

from soajs.context.parser import ParseResult

__all__ = ["ContextCache"]


class ContextCache:
    """``size`` entries at most; ``size=0`` disables caching."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lru: LRUCache[bytes, ParseResult] | None = LRUCache(size) if size > 0 else None
        self._lock = threading.Lock()

    def get(self, key: bytes) -> ParseResult | None:
        lru = self._lru
        if lru is None:
            return None
        with self._lock:
            try:  # one lookup (LRUCache.get would test membership first)
                return lru[key]
            except KeyError:
                return None

    def put(self, key: bytes, result: ParseResult) -> None:
        lru = self._lru
        if lru is not None:
            with self._lock:
                lru[key] = result

    def __len__(self) -> int:
        return 0 if self._lru is None else len(self._lru)

    def clear(self) -> None:
        if self._lru is not None:
            with self._lock:
                self._lru.clear()
