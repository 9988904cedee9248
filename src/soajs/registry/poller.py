"""The registry worker: the one thread of a manager that calls the control plane.

It polls every ``serviceConfig.awareness.autoReloadRegistry`` ms (see
:meth:`RegistryManager.next_interval`), runs the reloads requested through
the :class:`~soajs.registry.reloads.ReloadGate` (at most one at a time),
watches the host's reload broadcast (:mod:`soajs.registry.broadcast`) and
announces reloads asked of this process to the others.

A failed call keeps the last good registry and is retried with tenacity's
exponential backoff with full jitter (capped at ``max_backoff``); the loop is
event-driven (a reload request wakes it), which tenacity's blocking retry
loop is not, so only tenacity's wait strategy is used. Logging goes through
:class:`~soajs.registry.outage.OutageLog`.

No lock is held while the control plane is called: the snapshot is built in
this thread and published with one atomic update. ``stop()`` sets an event
and joins this thread for a bounded time; each call ends by the client's
total deadline, so the thread ends soon after in any case (it is a daemon,
and never blocks interpreter exit).

Without ``auto_reload`` the thread starts on demand (a reload request) and
ends after :data:`IDLE_EXIT` seconds with nothing to do.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import tenacity

from soajs import workers
from soajs.errors import RegistryError
from soajs.observability.instrument import registry_load, track_manager
from soajs.registry.reloads import ReloadOutcome

if TYPE_CHECKING:
    from concurrent.futures import Future

    from soajs.registry.manager import RegistryManager

__all__ = ["Poller"]

logger = logging.getLogger("soajs.registry")

#: Seconds an on-demand worker (``auto_reload=False``) waits for more work before ending.
IDLE_EXIT = 2.0
#: Longest single sleep of the loop (it re-checks its state at least this often).
MAX_SLEEP = 60.0
#: Shortest period between two reload announcements to the other workers.
ANNOUNCE_INTERVAL = 1.0


class Poller:
    """The worker thread of one :class:`~soajs.registry.manager.RegistryManager`."""

    def __init__(self, manager: RegistryManager) -> None:
        self.manager = manager
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.announce = False  # set by request_reload(): tell the other workers
        self.announce_due = 0.0
        self.failures = 0
        self.next_poll = 0.0
        #: set by processes.serves_requests(): a --preload master hands polling off
        self.follows_workers = False
        self._wait = tenacity.wait_random_exponential(
            multiplier=min(1.0, manager.max_backoff),
            max=manager.max_backoff,
            min=min(0.1, manager.max_backoff),
        )
        self._retry_state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        track_manager(manager)  # the metrics read its readiness and snapshot age
        _observe_loads(manager)

    # -- lifecycle (called with the manager's state lock held) ---------------
    def ensure_thread(self) -> None:
        if self.stop.is_set() or (self.thread is not None and self.thread.is_alive()):
            return
        self.thread = threading.Thread(
            target=self._run, name=f"soajs-registry-{self.manager.service_name}", daemon=True
        )
        self.thread.start()

    @property
    def polling(self) -> bool:
        """Periodic polls are due: never in a process that handed its services to
        its workers (a ``--preload`` master, :mod:`soajs.workers`)."""
        manager = self.manager
        return (manager.auto_reload or not manager.is_ready) and not self.handed_off

    @property
    def watches_broadcast(self) -> bool:
        """Reloads announced by the other workers are followed (not in a master)."""
        return self.manager.auto_reload and not self.handed_off

    @property
    def handed_off(self) -> bool:
        """This process forked its workers before serving a request: they poll."""
        return self.follows_workers and workers.handed_off()

    # -- the loop ---------------------------------------------------------------
    def _run(self) -> None:
        idle_since = time.monotonic()
        if self.manager.is_ready:  # a forked worker: it has its parent's registry
            self.manager._marks.mark()
        try:
            while not self.stop.is_set():
                self.wake.clear()
                try:
                    if self._step():
                        idle_since = time.monotonic()
                        continue
                    if self._sleep(idle_since):
                        return
                except Exception:  # a bug, not an outage: say so, keep the worker alive
                    if self.stop.is_set():
                        return
                    logger.exception(
                        "unexpected error in the registry worker of %r", self.manager.service_name
                    )
                    self.stop.wait(self.manager.max_backoff)
        finally:
            if self.stop.is_set():
                self.manager._close_client()

    def _step(self) -> bool:
        """Do what is due; True when a control-plane call was made."""
        manager = self.manager
        gate = manager._gate
        broadcast = manager._broadcast if self.watches_broadcast else None
        now = time.monotonic()
        if broadcast is not None and broadcast.due() <= now and broadcast.changed():
            logger.debug("reload of %r announced by another worker", manager.service_name)
            gate.request(rate_limited=True)
        if now >= self.announce_due:
            with manager._state_lock:  # set by request_reload() under the same lock
                announce, self.announce = self.announce, False
            if announce and manager._broadcast is not None:
                manager._broadcast.announce()  # at most one a second, however many asked
                self.announce_due = now + ANNOUNCE_INTERVAL
        future = gate.begin(periodic=self.polling and now >= self.next_poll)
        if future is None:
            return False
        self._call(future)
        return True

    def _sleep(self, idle_since: float) -> bool:
        """Sleep until something is due or a request wakes us; True to end the thread."""
        manager = self.manager
        now = time.monotonic()
        dues = [now + MAX_SLEEP]
        if self.polling:
            dues.append(self.next_poll)
        pending = manager._gate.next_due()
        if pending is not None:
            dues.append(pending)
        if self.announce:
            dues.append(self.announce_due)
        if self.watches_broadcast and manager._broadcast is not None:
            dues.append(manager._broadcast.due())
        elif not self.polling and pending is None:
            if now - idle_since >= IDLE_EXIT and self._exit_if_idle():
                return True
            dues.append(idle_since + IDLE_EXIT)
        self.wake.wait(max(0.0, min(dues) - now))
        return False

    def _exit_if_idle(self) -> bool:
        manager = self.manager
        with manager._state_lock:
            if not manager._gate.idle() or self.polling:
                return False
            self.thread = None  # a request from now on starts a new thread
            return True

    def _call(self, future: Future[ReloadOutcome]) -> None:
        manager = self.manager
        outage = manager._outage
        started = time.monotonic()
        try:
            try:
                # counted, traced and on_reload by _observe_loads
                registry = manager._fetch(register_first=outage.active or not manager.is_ready)
            except RegistryError:
                raise
            except Exception as exc:  # a bug, not an outage: loud, and the waiters still get told
                logger.exception(
                    "unexpected error in the registry worker of %r", manager.service_name
                )
                raise RegistryError(f"unexpected {type(exc).__name__}: {exc}") from exc
        except RegistryError as exc:
            outcome = ReloadOutcome.failed(exc, started)
            manager.last_error = exc
            self.failures += 1
            self._retry_state.attempt_number = self.failures
            delay = self._wait(self._retry_state)
            self.next_poll = time.monotonic() + delay
            if not self.stop.is_set():
                outage.failure(exc, manager._kept(), delay if self.polling else None)
        else:
            if self.failures:
                manager._registrar.after_outage()
            self.failures = 0
            outage.success()
            manager._marks.mark()  # once per process: its siblings may start degraded
            at = time.monotonic()
            self.next_poll = at + manager.next_interval()
            outcome = ReloadOutcome(True, None, registry, started, at, manager._loaded_at())
        manager._gate.finish(future, outcome)


def _observe_loads(manager: RegistryManager) -> None:
    """Every registry load of ``manager`` (the first, in ``start()``, and each poll or
    reload of this worker) in the metrics, a span and the ``on_reload`` hooks: its
    ``_fetch`` is wrapped once per manager (a new Poller after fork keeps the wrapper).
    The wrapper holds the manager weakly: no reference cycle keeps a dropped manager
    (and its gauges) alive until the garbage collector runs."""
    fetch = getattr(type(manager), "_fetch", None)
    if fetch is None or "_fetch" in vars(manager):
        return
    ref = weakref.ref(manager)

    def observed(*, register_first: bool) -> Any:
        target = ref()
        if target is None:  # pragma: no cover - only the manager itself calls this
            raise RegistryError("the registry manager is gone")
        initial = not target._started and target.last_loaded_at is None
        with registry_load(target.service_name, initial=initial):
            return fetch(target, register_first=register_first)

    manager._fetch = observed  # type: ignore[method-assign]
