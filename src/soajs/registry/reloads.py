"""Reload coalescing: any number of requests, at most one control-plane call in flight.

A :class:`ReloadGate` is the meeting point of everyone who wants the
registry reloaded: ``/reloadRegistry`` (any number of concurrent requests,
on any port, in any thread or event loop), :meth:`RegistryManager.reload`,
a reload broadcast from another worker of the host, and the poller. The
manager's own worker thread is the only one that calls the control plane;
callers get a :class:`concurrent.futures.Future` of the :class:`ReloadOutcome`.

* While a reload is in flight, every request joins it (``state="joined"``).
* A rate-limited request (the endpoint, a broadcast) arriving less than
  ``min_interval`` seconds after the last call started schedules a call for
  ``last start + min_interval`` (the trailing edge) and waits for it
  (``state="scheduled"``): its answer comes from a call that started after
  it was made. Further requests while that call is scheduled get the last
  outcome at once, with its age (``state="recent"``): the scheduled call
  still runs, so a change made just before them is picked up too. N
  requests cost at most one call in flight and one call per
  ``min_interval``, and at most one request per interval waits.
* An explicit :meth:`RegistryManager.reload` is not rate-limited: it joins
  the call in flight or the pending one (made due now), or starts one now.

Futures are marked running as they are made, so a waiter that gives up
(``asyncio.wait_for`` cancelling its wrapper) cannot cancel them for the
others.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from soajs.errors import RegistryError, RegistryTimeoutError

if TYPE_CHECKING:
    from soajs.models.registry import Registry
    from soajs.registry.poller import Poller

__all__ = ["ReloadGate", "ReloadOutcome", "ReloadRequests", "ReloadTicket"]


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload did: ``ok``, or the ``error``; when it ended and how long it took."""

    ok: bool
    error: RegistryError | None
    registry: Registry | None = field(repr=False)
    started: float  # time.monotonic()
    finished: float  # time.monotonic()
    finished_at: datetime

    @property
    def duration(self) -> float:
        """Seconds the call took."""
        return self.finished - self.started

    @property
    def age(self) -> float:
        """Seconds since it ended."""
        return time.monotonic() - self.finished

    @classmethod
    def failed(cls, error: RegistryError, started: float | None = None) -> ReloadOutcome:
        now = time.monotonic()
        return cls(False, error, None, now if started is None else started, now, datetime.now(UTC))


TicketState = Literal["started", "joined", "recent", "scheduled"]


@dataclass(frozen=True, slots=True)
class ReloadTicket:
    """What :meth:`RegistryManager.request_reload` returns.

    ``future`` resolves to the :class:`ReloadOutcome` of the call this
    request was folded into; ``state`` says how: ``"started"`` (a call was
    started for it), ``"joined"`` (a call was already in flight) or
    ``"scheduled"`` (rate limit: a call is scheduled at most ``min_interval``
    after the last one started, and this request waits for it) or
    ``"recent"`` (rate limit, someone already waits for that call:
    ``future`` is already resolved with the last outcome, see its ``age``;
    the scheduled call still runs, so the registry catches up).
    ``starts`` is when (``time.monotonic()``) that call started, or is due to
    start: a waiter bounds its wait from there (see ``/reloadRegistry``).
    """

    future: Future[ReloadOutcome]
    state: TicketState
    starts: float = 0.0


def _resolved(outcome: ReloadOutcome) -> Future[ReloadOutcome]:
    future: Future[ReloadOutcome] = Future()
    future.set_result(outcome)
    return future


def _running_future() -> Future[ReloadOutcome]:
    future: Future[ReloadOutcome] = Future()
    future.set_running_or_notify_cancel()  # nobody can cancel it for the others
    return future


class ReloadGate:
    """Requests in, at most one call out at a time. Thread-safe; its lock guards state only."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._inflight: Future[ReloadOutcome] | None = None
        self._pending: Future[ReloadOutcome] | None = None  # waits for the worker
        self._pending_due = 0.0
        self._last_start = -float("inf")
        self.last: ReloadOutcome | None = None
        self.calls = 0  # calls started (for tests and diagnostics)
        self.requests = 0

    def request(self, *, rate_limited: bool) -> ReloadTicket:
        """Fold a request into the call in flight, the pending one, or a new one."""
        with self._lock:
            self.requests += 1
            now = time.monotonic()
            if self._inflight is not None and self._pending is None:
                return ReloadTicket(self._inflight, "joined", self._last_start)
            if self._pending is None:
                due = self._last_start + self.min_interval if rate_limited else 0.0
                self._pending, self._pending_due = _running_future(), due if due > now else 0.0
                state: TicketState = "scheduled" if self._pending_due else "started"
                return ReloadTicket(self._pending, state, max(now, self._pending_due))
            if not rate_limited:
                self._pending_due = 0.0  # an explicit reload does not wait for the rate
            elif self._pending_due > now and self.last is not None:
                # someone already waits for the next call (the trailing edge): answer
                # this one at once with the last outcome; that call still runs
                return ReloadTicket(_resolved(self.last), "recent", now)
            state = "scheduled" if self._pending_due else "joined"
            return ReloadTicket(self._pending, state, max(now, self._pending_due))

    def next_due(self) -> float | None:
        """Monotonic time the pending call is due (0: now), or None when nothing waits."""
        with self._lock:
            if self._pending is None or self._inflight is not None:
                return None
            return self._pending_due

    def begin(self, *, periodic: bool) -> Future[ReloadOutcome] | None:
        """The worker starts a call: the pending request's, or (``periodic``) its own.

        None when a pending request is not due yet and this is not a periodic
        poll, or a call is already in flight.
        """
        with self._lock:
            if self._inflight is not None:
                return None
            now = time.monotonic()
            if self._pending is not None and (periodic or self._pending_due <= now):
                future, self._pending = self._pending, None
            elif periodic:
                future = _running_future()
            else:
                return None
            self._inflight, self._last_start = future, now
            self.calls += 1
            return future

    def finish(self, future: Future[ReloadOutcome], outcome: ReloadOutcome) -> None:
        """The call ended: record and hand out its outcome."""
        with self._lock:
            if self._inflight is future:
                self._inflight = None
            self.last = outcome
        _resolve(future, outcome)

    def idle(self) -> bool:
        with self._lock:
            return self._inflight is None and self._pending is None

    def abandon(self, error: RegistryError) -> None:
        """Resolve whatever waits with ``error`` (the manager stops)."""
        with self._lock:
            waiting = [f for f in (self._inflight, self._pending) if f is not None]
            self._inflight = self._pending = None
        for future in waiting:
            _resolve(future, ReloadOutcome.failed(error))


def _resolve(future: Future[ReloadOutcome], outcome: ReloadOutcome) -> None:
    with contextlib.suppress(InvalidStateError):  # abandoned by stop() meanwhile
        future.set_result(outcome)


class ReloadRequests:
    """The reload API of ``RegistryManager`` (a mixin): requests go through its gate."""

    service_name: str
    reload_timeout: float
    _stopped: bool
    _gate: ReloadGate
    _poller: Poller
    _state_lock: threading.Lock

    def reload(self, timeout: float | None = None) -> Registry:
        """Fetch the registry now and publish it; returns the new registry.

        Joins a reload already in flight rather than starting a second one.
        Waits at most ``timeout`` seconds (default :attr:`reload_timeout`),
        then raises :class:`~soajs.errors.RegistryTimeoutError` while the call goes
        on in the background. On failure the last good registry stays in
        place and the control plane's :class:`~soajs.errors.RegistryError`
        is raised.
        """
        if self._stopped:
            raise RegistryError(f"registry manager of {self.service_name!r} was stopped")
        ticket = self._request(rate_limited=False, announce=False)
        wait = self.reload_timeout if timeout is None else timeout
        try:
            outcome = ticket.future.result(wait)
        except FutureTimeout:
            raise RegistryTimeoutError(
                f"reload of {self.service_name!r} did not finish within {wait:g}s; it goes on "
                "in the background and the current registry stays in place",
                route="/getRegistry",
            ) from None
        if not outcome.ok:
            assert outcome.error is not None
            raise outcome.error
        assert outcome.registry is not None
        return outcome.registry

    def request_reload(self, *, broadcast: bool = True) -> ReloadTicket:
        """Ask for a reload without waiting: what ``/reloadRegistry`` calls.

        Any number of concurrent requests cost at most one control-plane call
        in flight and one call per ``reload_min_interval``
        (:mod:`soajs.registry.reloads`); the call runs on this manager's own
        worker thread, never on the caller's. Returns a
        :class:`~soajs.registry.reloads.ReloadTicket`: ``ticket.future`` (a
        :class:`concurrent.futures.Future` of a
        :class:`~soajs.registry.reloads.ReloadOutcome`; wait on it with a
        deadline, or ``asyncio.wrap_future``) and ``ticket.state``
        (``started``/``joined``/``scheduled``). With ``broadcast`` the other
        workers of the host reload too (:mod:`soajs.registry.broadcast`).
        Never raises: a stopped manager answers with a failed outcome.
        """
        if self._stopped:
            future: Future[ReloadOutcome] = Future()
            error = RegistryError(f"registry manager of {self.service_name!r} was stopped")
            future.set_result(ReloadOutcome.failed(error))
            return ReloadTicket(future, "joined")
        return self._request(rate_limited=True, announce=broadcast)

    def _request(self, *, rate_limited: bool, announce: bool) -> ReloadTicket:
        ticket = self._gate.request(rate_limited=rate_limited)
        poller = self._poller
        with self._state_lock:
            if announce:
                poller.announce = True
            if not self._stopped:
                poller.ensure_thread()
        poller.wake.set()
        return ticket
