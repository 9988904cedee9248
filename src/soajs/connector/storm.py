"""Bounded WARNING lines across targets: one line per storm per interval.

Each breaker already keeps its own lines to a few per failure streak
(:mod:`~soajs.connector.breaker`); but a client that names a new
``host:port`` on every request starts a new streak every time. So every
per-target WARNING of the connector also passes through a :class:`StormGate`:

* up to ``burst`` lines (10) per ``interval`` (60 s), across all targets, are
  logged as they are: a few failing targets keep every line they had;
* past that, one WARNING says a storm began; the rest go to DEBUG, counted,
  with the distinct targets they were about;
* while the storm lasts (an interval with more than ``burst`` lines), one
  summary WARNING per interval gives those counts; the interval after the
  storm ends gives the last one ("storm over").

A summary is logged when its interval has ended, at the next connector call
(or line, or ``breakers.reset()``). Never a header, key or token: only what
the per-target lines would have said, at DEBUG.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DEFAULT_BURST", "DEFAULT_INTERVAL", "StormGate"]

logger = logging.getLogger("soajs.connector")

DEFAULT_BURST = 10
DEFAULT_INTERVAL = 60.0
#: Distinct targets remembered per interval for the summary (then "1024+").
_MAX_TRACKED = 1024

_Summary = tuple[str, str, int, int, str, float]


class StormGate:
    """Lets ``burst`` per-target WARNING lines per ``interval`` seconds through."""

    def __init__(
        self,
        burst: int = DEFAULT_BURST,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or not interval > 0:
            raise ValueError(f"burst must be >= 1 and interval > 0, got {burst}, {interval}")
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._start: float | None = None  # the current interval's start
        self._lines = 0  # per-target lines asked for in it
        self._suppressed = 0
        self._targets: set[str] = set()
        self._storm = False  # the last interval overflowed: this one logs no per-target line
        #: A summary is owed (read without the lock, as a cheap hint).
        self.pending = False

    def warning(
        self, target: str, message: str, *args: object, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Log ``message % args`` (about ``target``) at WARNING, or count it at DEBUG.

        ``extra``: the line's structured fields (``soajs_event``, ``soajs_target``...).
        """
        now = self.clock()
        with self._lock:
            summary = self._roll(now)
            self._lines += 1
            allowed = not self._storm and self._lines <= self.burst
            began = False
            if not allowed:
                self._suppressed += 1
                if len(self._targets) < _MAX_TRACKED:
                    self._targets.add(target)
                began = not self._storm and self._suppressed == 1
                self.pending = True
        if summary is not None:
            _summary(summary)
        if allowed:
            logger.warning(message, *args, extra=extra)
            return
        if began:
            logger.warning(
                "connector WARNING storm: more than %d per-target lines in %g s across "
                "targets; until it ends they go to DEBUG, and one line per %g s counts them",
                self.burst,
                self.interval,
                self.interval,
                extra={"soajs_event": "connector_storm"},
            )
        logger.debug(message, *args, extra=extra)

    def flush(self) -> None:
        """Log the summary owed for an interval that has ended (cheap when none is owed)."""
        if not self.pending:
            return
        now = self.clock()
        with self._lock:
            summary = self._roll(now)
        if summary is not None:
            _summary(summary)

    def reset(self) -> None:
        """End the interval now: its summary, if one is owed, is logged; counts start over."""
        now = self.clock()
        with self._lock:
            summary = self._roll(now, force=True)
        if summary is not None:
            _summary(summary)

    def _roll(self, now: float, force: bool = False) -> _Summary | None:
        """Start a new interval if this one has ended; the summary it owes, if any."""
        start = self._start
        if start is not None and now - start < self.interval and not force:
            return None
        summary: _Summary | None = None
        if (self._suppressed or self._storm) and start is not None:
            going = self._lines > self.burst and not force
            distinct = len(self._targets)
            summary = (
                "connector WARNING storm %s: %d per-target line(s) about %d%s distinct "
                "target(s) went to DEBUG in the last %.0f s",
                "goes on" if going else "over",
                self._suppressed,
                distinct,
                "+" if distinct >= _MAX_TRACKED else "",
                now - start,
            )
            self._storm = going
        else:
            self._storm = False
        self._start = now
        self._lines = self._suppressed = 0
        self._targets = set()
        self.pending = self._storm  # a storm's every interval ends with its line
        return summary


def _summary(summary: _Summary) -> None:
    logger.warning(
        *summary, extra={"soajs_event": "connector_storm", "soajs_suppressed": summary[2]}
    )
