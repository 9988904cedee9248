"""A circuit breaker per target ``host:port``, shared by every thread and task.

* **closed**: calls go through; ``failure_threshold`` consecutive failures open it.
* **open**: calls are refused (a mesh call then fails over to the gateway)
  until ``reset_timeout`` seconds have passed.
* **half-open**: one probe call is let through; success closes the circuit,
  failure opens it again for another ``reset_timeout``. A probe that never
  reports back (its task was cancelled) is replaced after ``reset_timeout``.

Logging (logger ``soajs.connector``) is bounded per failure streak, however
long the outage: a WARNING when the circuit opens (with the last failure's
kind), one for the first half-open probe, and one when it closes again,
with the streak's length, duration and how many repeat lines (failovers,
probes, re-openings) went to DEBUG instead. Never a header, key or token.

Across targets, every per-target WARNING passes ``breakers.logs`` (a
:class:`~soajs.connector.storm.StormGate`: one line per storm per minute).
At most ``max_targets`` breakers are kept (1024): closed idle ones are evicted
first, an open one within its reset window only past the hard cap
(:meth:`BreakerRegistry._evict`; docs/connector.md has the order).

Breakers are per ``host:port`` for the whole process: the first connector's
:class:`BreakerPolicy` for a target sticks. A connector asking for another
one gets a WARNING, once per target (later conflicts are counted in
:meth:`BreakerRegistry.snapshot`). Read them with ``breakers.snapshot()``,
reset them with ``breakers.reset()`` or ``breakers.reset("host:port")``.

A lock guards each breaker's few fields; it is never held across I/O.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from soajs.connector.storm import StormGate
from soajs.observability.instrument import breaker_changed

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "BreakerPolicy",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "State",
    "breakers",
]

logger = logging.getLogger("soajs.connector")

State = Literal["closed", "open", "half-open"]

#: Breakers the process keeps (``breakers.max_targets``); four times that is the hard cap.
DEFAULT_MAX_TARGETS = 1024
_HARD_CAP_FACTOR = 4


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """``failure_threshold`` consecutive failures open a circuit for ``reset_timeout`` s."""

    failure_threshold: int = 5
    reset_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.reset_timeout < 0:
            raise ValueError(f"reset_timeout must be >= 0, got {self.reset_timeout}")


@dataclass(frozen=True, slots=True)
class BreakerState:
    """What :meth:`BreakerRegistry.snapshot` tells about one target's breaker.

    ``opened_at`` is when the circuit last opened (``time.time()`` seconds,
    ``None`` while closed), ``retry_in`` the seconds until it lets a probe
    through, ``policy_conflicts`` how many breaker look-ups (a call makes one
    or two) asked for another policy than ``policy`` (the one that sticks).
    """

    target: str
    label: str
    state: State
    failures: int
    opened_at: float | None
    retry_in: float
    policy: BreakerPolicy
    policy_conflicts: int


class CircuitBreaker:
    """The breaker of one target; ``label`` says what it is in log lines."""

    def __init__(
        self,
        target: str,
        policy: BreakerPolicy | None = None,
        *,
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
        logs: StormGate | None = None,
    ) -> None:
        self.target = target
        self._logs = logs
        #: When it was last looked up (a registry tick), for eviction.
        self.used = 0
        self.policy = policy or BreakerPolicy()
        self.label = label or target
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_at = 0.0
        # the current failure streak: when it started, what was counted instead of logged
        self._streak_at = 0.0
        self._probes = 0
        self._suppressed = 0
        self._last_reason = ""
        self.policy_conflicts = 0
        self._fields = {"soajs_event": "breaker", "soajs_target": target}

    def _warn(self, first: bool, message: str, *args: object) -> None:
        """WARNING (through the storm gate) for a streak's first line of its kind, else DEBUG."""
        if not first:
            logger.debug(message, *args, extra=self._fields)
        elif self._logs is not None:
            self._logs.warning(self.target, message, *args, extra=self._fields)
        else:
            logger.warning(message, *args, extra=self._fields)

    @property
    def state(self) -> State:
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        if self._state == "closed":
            return 0.0
        return max(0.0, self._opened_at + self.policy.reset_timeout - self._clock())

    def allow(self) -> bool:
        """May a call go to this target now? (After the cool-down, one probe may.)"""
        if self._state == "closed":  # the common case: no lock
            return True
        with self._lock:
            now = self._clock()
            state: State = self._state
            if state == "closed":
                return True
            if state == "open":
                if now - self._opened_at < self.policy.reset_timeout:
                    return False
                self._state = "half-open"
                self._probe_at = now
                self._probes += 1
                first = self._probes == 1
                if not first:
                    self._suppressed += 1
            else:  # half-open: one probe at a time, unless it got lost
                if now - self._probe_at < self.policy.reset_timeout:
                    return False
                self._probe_at = now
                return True
        breaker_changed(self.target, self.label, "open", "half-open")
        self._warn(first, "circuit for %s half-open: letting one probe call through", self.label)
        return True

    def record_success(self) -> None:
        if self._state == "closed" and self._failures == 0:
            return
        with self._lock:
            was = self._state
            failures = self._failures
            seconds = self._clock() - self._streak_at
            suppressed = self._suppressed
            self._state = "closed"
            self._failures = 0
            self._probes = self._suppressed = 0
        if was != "closed":
            breaker_changed(self.target, self.label, was, "closed")
            self._warn(
                True,
                "circuit for %s closed: the probe call succeeded after %d consecutive "
                "failure(s) over %.3g s (%d repeat line(s) of this streak were logged at DEBUG "
                "only)",
                self.label,
                failures,
                seconds,
                suppressed,
            )

    def record_failure(self, reason: str = "") -> None:
        """Count a failure (``reason``: its kind, e.g. ``ReadTimeout`` or ``HTTP 503``)."""
        with self._lock:
            was = self._state
            now = self._clock()
            if self._failures == 0:
                self._streak_at = now
            self._failures += 1
            self._last_reason = reason or self._last_reason
            opened = was == "half-open" or (
                was == "closed" and self._failures >= self.policy.failure_threshold
            )
            if opened:
                self._state = "open"
                self._opened_at = now
            first_open = opened and was == "closed"
            if opened and not first_open:
                self._suppressed += 1
            failures = self._failures
            last = self._last_reason
        if opened:
            breaker_changed(self.target, self.label, was, "open")
        if first_open:
            self._warn(
                True,
                "circuit for %s opened after %d consecutive failure(s) (last: %s); "
                "no calls for %.3g s, then one probe; until it closes, failed probes are "
                "counted, not logged",
                self.label,
                failures,
                last or "unknown",
                self.policy.reset_timeout,
            )
        elif opened:
            logger.debug("circuit for %s opened again: the probe failed (%s)", self.label, last)

    def demoted(self) -> None:
        """Count a line of this streak logged at DEBUG, not WARNING (e.g. a repeat failover)."""
        with self._lock:
            self._suppressed += 1

    def _evict_rank(self, now: float) -> int:
        """0 closed and idle, 1 closed with failures, 2 open past its reset window
        (or half-open), 3 open within it: evicted in that order."""
        state = self._state
        if state == "closed":
            return 0 if self._failures == 0 else 1
        if state == "open" and now - self._opened_at < self.policy.reset_timeout:
            return 3
        return 2

    def snapshot(self, wall: float, now: float) -> BreakerState:
        """This breaker's state; ``wall`` and ``now``: ``time.time()`` and its clock, read once."""
        with self._lock:
            state = self._state
            opened = None if state == "closed" else wall - (now - self._opened_at)
            return BreakerState(
                target=self.target,
                label=self.label,
                state=state,
                failures=self._failures,
                opened_at=opened,
                retry_in=self.retry_in(),
                policy=self.policy,
                policy_conflicts=self.policy_conflicts,
            )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.target!r}, state={self._state!r}, failures={self._failures})"


class BreakerRegistry:
    """The process's breakers, one per ``host:port`` (created on first use).

    At most ``max_targets`` of them (see the module's doc for what is evicted);
    ``evicted`` counts the breakers dropped so far; ``logs`` bounds the
    WARNING lines across targets.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_targets: int = DEFAULT_MAX_TARGETS,
        logs: StormGate | None = None,
    ) -> None:
        if max_targets < 1:
            raise ValueError(f"max_targets must be >= 1, got {max_targets}")
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.max_targets = max_targets
        self.logs = logs or StormGate()
        self.evicted = 0
        self._tick = itertools.count(1)

    @property
    def hard_cap(self) -> int:
        """Past this many breakers even open ones within their reset window are evicted."""
        return _HARD_CAP_FACTOR * self.max_targets

    def get(self, target: str, policy: BreakerPolicy, label: str = "") -> CircuitBreaker:
        """The breaker of ``target``; the first caller's policy and label stick.

        A caller asking for another policy gets a WARNING, once per target.
        """
        logs = self.logs
        if logs.pending:  # a storm's summary is owed once its interval ends
            logs.flush()
        breaker = self._breakers.get(target)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(target)
                if breaker is None:
                    if len(self._breakers) >= self.max_targets:
                        self._evict()
                    breaker = CircuitBreaker(
                        target, policy, label=label, clock=self._now, logs=logs
                    )
                    breaker.used = next(self._tick)
                    self._breakers[target] = breaker
                    return breaker
        breaker.used = next(self._tick)
        kept = breaker.policy
        if kept is not policy and kept != policy:
            self._conflict(breaker, policy)
        return breaker

    def _evict(self) -> None:
        """Make room (under the lock): a quarter of ``max_targets`` at once (constant cost
        per new target), by rank (closed idle, closed failing, open past its reset window,
        open within it: kept unless over :attr:`hard_cap`), least recently used first."""
        now = self._now()
        batch = max(1, self.max_targets // 4)
        keep = self.max_targets - batch
        hard = self.hard_cap - batch
        size = len(self._breakers)
        ranked = sorted(self._breakers.values(), key=lambda b: (b._evict_rank(now), b.used))
        victims: list[CircuitBreaker] = []
        for breaker in ranked:
            left = size - len(victims)
            if breaker._evict_rank(now) == 3:
                if left <= hard:
                    break  # open within its reset window: kept, up to the hard cap
            elif left <= keep:
                break
            victims.append(breaker)
        for breaker in victims:
            del self._breakers[breaker.target]
        self.evicted += len(victims)
        logger.debug(
            "breakers: %d of %d evicted (max_targets %d)", len(victims), size, self.max_targets
        )

    def _conflict(self, breaker: CircuitBreaker, policy: BreakerPolicy) -> None:
        with self._lock:
            breaker.policy_conflicts += 1
            first = breaker.policy_conflicts == 1
        if first:
            self.logs.warning(
                breaker.target,
                "circuit breaker for %s: a connector asks for %s but the breaker was made "
                "with %s, which stays (one breaker per host:port for the whole process); "
                "give every connector of this target one policy, or reset it with "
                "soajs.connector.breakers.reset(%r). Later conflicts are counted in "
                "breakers.snapshot()",
                breaker.label,
                policy,
                breaker.policy,
                breaker.target,
                extra={"soajs_event": "breaker_policy_conflict", "soajs_target": breaker.target},
            )

    def _now(self) -> float:
        return self.clock()

    def __contains__(self, target: str) -> bool:
        return target in self._breakers

    def snapshot(self) -> dict[str, BreakerState]:
        """Every breaker's state, by target ``host:port`` (for tests, health pages, ops)."""
        with self._lock:
            current = list(self._breakers.values())
        wall, now = time.time(), self._now()
        return {b.target: b.snapshot(wall, now) for b in current}

    def reset(self, target: str | None = None) -> int:
        """Forget the breaker of ``target`` (``"host:port"``), or every breaker; returns how many.

        The next call to that target starts closed, with that caller's policy.
        Resetting every breaker also ends a log storm (its summary is logged now).
        """
        if target is None:
            self.logs.reset()
        with self._lock:
            if target is None:
                count = len(self._breakers)
                self._breakers.clear()
                return count
            return 1 if self._breakers.pop(target, None) is not None else 0

    def clear(self) -> None:
        """Forget every breaker (``reset()``)."""
        self.reset()


#: The process-wide breakers used by every connector.
breakers = BreakerRegistry()
