"""The per-process counts behind every metric: plain Python, no dependency.

The request path counts in a preallocated list of integers (``+=`` under
the GIL, about 20 ns; a lock-taking ``prometheus_client.Counter.inc`` costs
0.3 to 1 µs); the colder paths (connector calls, registry polls, breaker
transitions) count in small dicts under a lock. Nothing here is exported:
`soajs.observability.families` turns a snapshot into metric families
at scrape time.

Bounds: every label set is bounded. Target services and breaker targets are
capped at `MAX_TARGETS` distinct values each (later ones are counted as
``"other"``); outcomes, routes, reasons and states are closed sets.

``SOAJS_METRICS=0`` turns counting off (`ENABLED`); the hot path then
costs one ``is not None`` test.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from soajs.context.reasons import Reason
from soajs.settings import env_flag

__all__ = [
    "BUCKETS",
    "ENABLED",
    "HEADERS",
    "MAX_TARGETS",
    "REASON_INDEX",
    "Histogram",
    "LabelledCounts",
    "reset",
    "stats",
]

#: Off with ``SOAJS_METRICS=0`` (or ``false``); on by default. Read as every boolean
#: setting is (a bad value such as ``no`` keeps the default here, and is a
#: ConfigurationError naming the variable when a RegistryManager starts).
ENABLED = env_flag("SOAJS_METRICS", True)

#: Distinct target services (and breaker targets) with their own label values.
MAX_TARGETS = 64
OTHER = "other"

#: Latency buckets (seconds) of the connector and reload histograms.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REASONS: tuple[Reason, ...] = tuple(Reason)
#: ``HEADERS[REASON_INDEX[reason]]`` counts parsed headers, ``+ 1`` those served from the cache.
REASON_INDEX: dict[Reason, int] = {reason: 2 * i for i, reason in enumerate(REASONS)}

#: Header outcomes of this process; ``None`` when metrics are off.
HEADERS: list[int] | None = [0] * (2 * len(REASONS)) if ENABLED else None


class LabelledCounts:
    """A counter by a fixed tuple of label names; the first label is capped."""

    __slots__ = ("_lock", "_seen", "cap", "labels", "values")

    def __init__(self, labels: tuple[str, ...], cap: int = MAX_TARGETS) -> None:
        self.labels = labels
        self.cap = cap
        self.values: dict[tuple[str, ...], float] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def bound(self, first: str) -> str:
        """``first`` (its first 100 characters), or ``"other"`` once ``cap`` distinct
        values were seen."""
        first = first[:100]
        if first in self._seen:
            return first
        if len(self._seen) >= self.cap:
            return OTHER
        self._seen.add(first)
        return first

    def add(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        with self._lock:
            key = (self.bound(key[0]), *key[1:])
            self.values[key] = self.values.get(key, 0.0) + amount

    def items(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return list(self.values.items())

    def clear(self) -> None:
        with self._lock:
            self.values.clear()
            self._seen.clear()


class Histogram:
    """A histogram by label tuple (first label capped): bucket counts, sum and count."""

    __slots__ = ("_lock", "_names", "buckets", "labels", "values")

    def __init__(self, labels: tuple[str, ...], buckets: tuple[float, ...] = BUCKETS) -> None:
        self.labels = labels
        self.buckets = buckets
        #: key -> [count per bucket (not cumulative)..., count above the last, sum]
        self.values: dict[tuple[str, ...], list[float]] = {}
        self._names = LabelledCounts(labels)  # only its cap of the first label
        self._lock = threading.Lock()

    def observe(self, key: tuple[str, ...], value: float) -> None:
        value = max(0.0, value)
        with self._lock:
            key = (self._names.bound(key[0]), *key[1:])
            row = self.values.get(key)
            if row is None:
                row = self.values[key] = [0.0] * (len(self.buckets) + 2)
            for i, edge in enumerate(self.buckets):
                if value <= edge:
                    row[i] += 1
                    break
            else:
                row[len(self.buckets)] += 1
            row[-1] += value

    def rows(self) -> list[tuple[tuple[str, ...], list[float]]]:
        with self._lock:
            return [(k, list(v)) for k, v in self.values.items()]

    def clear(self) -> None:
        with self._lock:
            self.values.clear()
            self._names.clear()


class Stats:
    """Every count of the colder paths."""

    def __init__(self) -> None:
        self.calls = LabelledCounts(("service", "route", "outcome"))
        self.retries = LabelledCounts(("service",))
        self.failovers = LabelledCounts(("service",))
        self.latency = Histogram(("service", "route"))
        self.transitions = LabelledCounts(("target", "state"))
        self.polls = LabelledCounts(("service", "outcome"))
        self.reloads = Histogram(("service",))
        self.registrations = LabelledCounts(("service", "outcome"))

    def clear(self) -> None:
        for value in vars(self).values():
            value.clear()


stats = Stats()

#: What the gauges read at scrape time (held weakly): registry managers, context resolvers.
managers: weakref.WeakSet[Any] = weakref.WeakSet()
resolvers: weakref.WeakSet[Any] = weakref.WeakSet()


def reset() -> None:
    """Zero every count of this process (tests; a forked child starts from zero)."""
    if HEADERS is not None:
        HEADERS[:] = [0] * len(HEADERS)
    stats.clear()


def _after_fork_in_child() -> None:
    # A forked worker must not report its parent's counts again (they would be summed
    # twice); and another thread of the parent may have held a count's lock at the
    # instant of the fork: new objects, never an acquire of an inherited lock (a hang).
    global stats
    if HEADERS is not None:
        HEADERS[:] = [0] * len(HEADERS)
    stats = Stats()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
