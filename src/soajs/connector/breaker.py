"""A circuit breaker per target ``host:port``, shared by every thread and task.

* **closed**: calls go through; ``failure_threshold`` consecutive failures open it.
* **open**: calls are refused (a mesh call then fails over to the gateway)
  until ``reset_timeout`` seconds have passed.
* **half-open**: one probe call is let through; success closes the circuit,
  failure opens it again for another ``reset_timeout``. A probe that never
  reports back (its task was cancelled) is replaced after ``reset_timeout``.

Each state change is logged once at WARNING (logger ``soajs.connector``).
A lock guards each breaker's few fields; it is never held across I/O.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["BreakerPolicy", "BreakerRegistry", "CircuitBreaker", "State", "breakers"]

logger = logging.getLogger("soajs.connector")

State = Literal["closed", "open", "half-open"]


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


class CircuitBreaker:
    """The breaker of one target; ``label`` says what it is in log lines."""

    def __init__(
        self,
        target: str,
        policy: BreakerPolicy | None = None,
        *,
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.policy = policy or BreakerPolicy()
        self.label = label or target
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_at = 0.0

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
                transition = True
            else:  # half-open: one probe at a time, unless it got lost
                if now - self._probe_at < self.policy.reset_timeout:
                    return False
                self._probe_at = now
                transition = False
        if transition:
            logger.warning("circuit for %s half-open: letting one probe call through", self.label)
        return True

    def record_success(self) -> None:
        if self._state == "closed" and self._failures == 0:
            return
        with self._lock:
            was = self._state
            self._state = "closed"
            self._failures = 0
        if was != "closed":
            logger.warning("circuit for %s closed: the probe call succeeded", self.label)

    def record_failure(self) -> None:
        with self._lock:
            was = self._state
            self._failures += 1
            opened = was == "half-open" or (
                was == "closed" and self._failures >= self.policy.failure_threshold
            )
            if opened:
                self._state = "open"
                self._opened_at = self._clock()
            failures = self._failures
        if opened:
            logger.warning(
                "circuit for %s opened after %d consecutive failure(s); "
                "no calls for %.3g s, then one probe",
                self.label,
                failures,
                self.policy.reset_timeout,
            )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.target!r}, state={self._state!r}, failures={self._failures})"


class BreakerRegistry:
    """The process's breakers, one per ``host:port`` (created on first use)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def get(self, target: str, policy: BreakerPolicy, label: str = "") -> CircuitBreaker:
        """The breaker of ``target``; the first caller's policy and label stick."""
        breaker = self._breakers.get(target)
        if breaker is not None:
            return breaker
        with self._lock:
            breaker = self._breakers.get(target)
            if breaker is None:
                breaker = CircuitBreaker(target, policy, label=label, clock=self._now)
                self._breakers[target] = breaker
            return breaker

    def _now(self) -> float:
        return self.clock()

    def __contains__(self, target: str) -> bool:
        return target in self._breakers

    def clear(self) -> None:
        """Forget every breaker (tests; after the topology changed)."""
        with self._lock:
            self._breakers.clear()


#: The process-wide breakers used by every connector.
breakers = BreakerRegistry()
