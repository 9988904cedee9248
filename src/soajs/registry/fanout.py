"""``POST /register`` to every controller host of the environment, concurrently.

The Node framework registers a service with each host of the latest
controller version (``services.controller.hosts``, at the controller port +
``maintenanceInc``). Here each host gets its own thread and its own client,
every call bounded by the deadline transport (``SOAJS_REGISTRY_TIMEOUT`` in
total); the round is joined for at most that deadline + 1 s, so a host that
hangs costs one deadline and never blocks the others. One round runs at a
time: a round asked for while one is waiting or running runs once, with the
body built when it starts (so the app's routes, reported a moment after the
registry started, are in it). The first round waits :data:`FIRST_ROUND_DELAY`
for that. No lock is held across a call.

Logs are bounded: one WARNING when a controller starts failing, one INFO
when it answers again (with the number of failed rounds), DEBUG between.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from soajs.errors import RegistryError
from soajs.observability.instrument import registration
from soajs.registry.client import RegistryClient
from soajs.registry.deployment import MAX_CONTROLLER_HOSTS, ControllerTarget

__all__ = ["ControllerFanout"]

logger = logging.getLogger("soajs.registry")

ClientFactory = Callable[[str], RegistryClient]
BodyFactory = Callable[[], dict[str, Any]]
#: Seconds the first round waits for the middleware to report the app's routes.
FIRST_ROUND_DELAY = 0.5


class ControllerFanout:
    """Registers a service with a list of controllers, in the background."""

    def __init__(
        self,
        service_name: str,
        client_factory: ClientFactory,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> None:
        self.service_name = service_name
        self._client_factory = client_factory
        self.timeout = timeout
        self._cancel = cancel or threading.Event()
        self._delay = FIRST_ROUND_DELAY
        self._lock = threading.Lock()  # guards the fields below, never held across I/O
        self._thread: threading.Thread | None = None
        self._pending: tuple[tuple[ControllerTarget, ...], BodyFactory] | None = None
        self._failing: dict[ControllerTarget, int] = {}
        #: Every round's result, for tests and ``describe``: target -> True/False.
        self.last_round: dict[str, bool] = {}
        self.rounds = 0

    def send(self, targets: Sequence[ControllerTarget], body: BodyFactory) -> None:
        """Register ``body()`` with ``targets`` in the background (returns at once)."""
        chosen = tuple(targets)[: MAX_CONTROLLER_HOSTS + 1]  # SOAJS_REGISTRY_API + the hosts
        if not chosen:
            return
        with self._lock:
            self._pending = (chosen, body)
            if self._thread is not None and self._thread.is_alive():
                return  # the running round picks the pending one up when it ends
            thread = self._thread = threading.Thread(
                target=self._run, name="soajs-register", daemon=True
            )
        thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait for the current rounds to end (tests, stop); True when none is left."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        delay, self._delay = self._delay, 0.0
        if delay and self._cancel.wait(delay):
            with self._lock:
                self._pending, self._thread = None, None
            return
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._thread = None
                    return
            targets, make_body = job
            try:
                body = make_body()
            except Exception as exc:
                logger.warning("registration of %r not sent: its body failed (%s: %s)",
                               self.service_name, type(exc).__name__, exc)  # fmt: skip
                continue
            self._round(targets, body)

    def _round(self, targets: tuple[ControllerTarget, ...], body: dict[str, Any]) -> None:
        results: dict[ControllerTarget, bool] = {}
        threads = [
            threading.Thread(
                target=self._one, args=(target, body, results), name="soajs-register-1", daemon=True
            )
            for target in targets
        ]
        for thread in threads:
            thread.start()
        # every call ends by its own deadline; this join is only a bound on the round
        for thread in threads:
            thread.join(self.timeout + 1.0)
        with self._lock:
            self.rounds += 1
            self.last_round = {str(t): results.get(t, False) for t in targets}

    def _one(
        self, target: ControllerTarget, body: dict[str, Any], results: dict[ControllerTarget, bool]
    ) -> None:
        try:
            client = self._client_factory(target.url)
        except Exception as exc:  # a bad host name, say
            self._failed(target, exc)
            results[target] = False
            return
        try:
            with registration(str(body.get("name", ""))):  # metrics and a span (observability)
                client.register(body)
        except RegistryError as exc:
            self._failed(target, exc)
            results[target] = False
        except Exception as exc:  # never let a bug here kill the round silently
            self._failed(target, exc)
            results[target] = False
        else:
            self._succeeded(target, body)
            results[target] = True
        finally:
            client.close()

    def _failed(self, target: ControllerTarget, exc: BaseException) -> None:
        with self._lock:
            if len(self._failing) > 4 * MAX_CONTROLLER_HOSTS:
                self._failing.clear()  # hosts come and go: keep the map bounded
            count = self._failing.get(target, 0) + 1
            self._failing[target] = count
        if count == 1:
            logger.warning(
                "registering %r with controller %s failed: %s; retried on the next "
                "registration, further failures at DEBUG",
                self.service_name,
                target,
                exc,
            )
        else:
            logger.debug("registering %r with controller %s failed again (%d): %s",
                         self.service_name, target, count, exc)  # fmt: skip

    def _succeeded(self, target: ControllerTarget, body: dict[str, Any]) -> None:
        with self._lock:
            failed = self._failing.pop(target, 0)
        if failed:
            logger.info(
                "controller %s accepted the registration of %r again after %d failed attempt%s",
                target,
                self.service_name,
                failed,
                "" if failed == 1 else "s",
            )
        else:
            logger.info(
                "registered %r v%s at %s:%s with controller %s",
                self.service_name,
                body.get("version"),
                body.get("ip"),
                body.get("port"),
                target,
            )
