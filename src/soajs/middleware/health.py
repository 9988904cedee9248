"""The endpoints the gateway and operators call on a SOAJS service.

``GET /heartbeat`` (any 200 = healthy), the configured readiness path (200
once the registry is loaded, 503 before) and ``GET /reloadRegistry`` (reload
now, answer with the envelope). Framework-free: the ASGI and WSGI adapters
and the maintenance listener all answer through :class:`HealthEndpoints`.

Every answer carries the ``service`` block and, as Node's, a ``versions``
block (``core``: this library's version, ``service``: the Config's version).
``/reloadRegistry`` does **not** answer the registry as Node does (it holds
database credentials, and the port is reachable by whoever reaches the host):
it answers the reload's outcome and its timing, no registry data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from soajs.errors import SoajsError
from soajs.models.envelope import make_envelope

__all__ = ["HealthAnswer", "HealthEndpoints"]

logger = logging.getLogger("soajs.middleware")

JSON = "application/json"

#: Seconds ``/reloadRegistry`` waits for its reload before answering 202
#: (``SOAJS_RELOAD_ANSWER_WAIT``; this default for a registry without settings).
DEFAULT_ANSWER_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class HealthAnswer:
    status: int
    body: bytes
    content_type: str = JSON


@dataclass(frozen=True, slots=True)
class _Plain:
    """The outcome of a reload of a registry object of the user's own."""

    ok: bool
    error: BaseException | None = None


class HealthEndpoints:
    """Answers the health paths for one service.

    ``registry`` is the RegistryManager (or ``None``); ``readiness_path``
    defaults to the service Config's ``maintenance.readiness``.
    """

    def __init__(
        self, registry: Any = None, readiness_path: str | None = None, service: str | None = None
    ) -> None:
        self.registry = registry
        config = getattr(registry, "config", None)
        if readiness_path is None and config is not None:
            readiness_path = config.maintenance.readiness
        self.readiness_path = readiness_path or "/heartbeat"
        self.service = service or getattr(registry, "service_name", None) or "service"
        self.paths = frozenset({"/heartbeat", self.readiness_path, "/reloadRegistry"})
        self.versions: dict[str, str] = {"core": _core_version()}
        version = getattr(config, "version", None)
        if isinstance(version, str):
            self.versions["service"] = version
        self._foreign_lock = threading.Lock()
        self._foreign: Future[Any] | None = None

    def needs_io(self, path: str) -> bool:
        """True for the paths that call the control plane (run them off the event loop)."""
        return path == "/reloadRegistry"

    def answer(self, method: str, path: str) -> HealthAnswer | None:
        """The answer for ``method path``, or ``None`` when it is not a health path."""
        if path not in self.paths or method not in ("GET", "HEAD"):
            return None
        if path == "/reloadRegistry":
            return self._reload()
        if path == self.readiness_path and path != "/heartbeat":
            return self._ready()
        return self._envelope(path, ok=True)

    def unhealthy(self, path: str, reason: str) -> HealthAnswer:
        """503 with the envelope: the process that serves traffic does not (``reason``)."""
        return self._envelope(path, ok=False, status=503, error=(503, reason))

    def _ready(self) -> HealthAnswer:
        ready = self.registry is None or bool(getattr(self.registry, "is_ready", True))
        if ready:
            return self._envelope(self.readiness_path, ok=True)
        return self._envelope(
            self.readiness_path, ok=False, status=503, error=(503, "registry not loaded yet")
        )

    # -- /reloadRegistry ------------------------------------------------------
    # Coalesced and rate-limited by the registry (RegistryManager.request_reload):
    # any number of requests cost at most one control-plane call in flight and
    # one per SOAJS_RELOAD_MIN_INTERVAL; the call runs on the manager's own
    # worker thread, never on the caller's (nor on asyncio's default executor).
    # The answer waits for that call a short while, then says "in progress" (202).
    # Not restricted to trusted peers: its cost is bounded whoever calls, and it
    # answers no registry data (see docs/registry.md, "Under faults").

    async def answer_async(self, method: str, path: str) -> HealthAnswer | None:
        """:meth:`answer` for an event loop: ``/reloadRegistry`` awaits without blocking it."""
        if path == "/reloadRegistry" and path in self.paths and method in ("GET", "HEAD"):
            started = self._reload_start()
            if isinstance(started, HealthAnswer):
                return started
            future, wait, state = started
            if future.done():  # already answered (an offline registry, a recent outcome)
                return self._reload_answer(future.result(), state, wait)
            try:
                # shield: giving up on the wait must not cancel the call for the others
                outcome = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), wait)
            except TimeoutError:
                outcome = None
            return self._reload_answer(outcome, state, wait)
        return self.answer(method, path)

    def _reload(self) -> HealthAnswer:
        started = self._reload_start()
        if isinstance(started, HealthAnswer):
            return started
        future, wait, state = started
        try:
            outcome = future.result(wait)
        except FutureTimeout:
            outcome = None
        return self._reload_answer(outcome, state, wait)

    def _reload_start(self) -> HealthAnswer | tuple[Future[Any], float, str]:
        registry = self.registry
        if registry is None:
            return self._envelope("/reloadRegistry", ok=False, error=(501, "no registry to reload"))
        request = getattr(registry, "request_reload", None)
        # A short bound (SOAJS_RELOAD_ANSWER_WAIT), never the control plane's deadline:
        # counted from the start of the call this request joins (from when it is due,
        # for a rate-limited one), so a storm on a hanging control plane is answered
        # "in progress" at once after the first second, a WSGI thread is held for at
        # most that long, and the listener's request deadline is never reached.
        settings = getattr(registry, "settings", None)
        bound = float(getattr(settings, "reload_answer_wait", DEFAULT_ANSWER_WAIT))
        if request is None:  # a registry object of the user's own: one reload at a time
            return self._foreign_reload(registry), bound, "started"
        ticket = request()
        starts = getattr(ticket, "starts", None)
        wait = bound if starts is None else max(0.0, starts + bound - time.monotonic())
        return ticket.future, wait, str(ticket.state)

    def _foreign_reload(self, registry: Any) -> Future[Any]:
        with self._foreign_lock:
            if self._foreign is not None and not self._foreign.done():
                return self._foreign
            future: Future[Any] = Future()
            future.set_running_or_notify_cancel()
            self._foreign = future

        def run() -> None:
            try:
                registry.reload()
            except SoajsError as exc:
                future.set_result(_Plain(False, exc))
            except Exception as exc:
                logger.exception("reload of a custom registry object failed")
                future.set_result(_Plain(False, exc))
            else:
                future.set_result(_Plain(True))

        threading.Thread(target=run, name="soajs-reload", daemon=True).start()
        return future

    def _reload_answer(self, outcome: Any, state: str, wait: float) -> HealthAnswer:
        route = "/reloadRegistry"
        if outcome is None:  # still running after the wait: say so, it goes on
            body = {"reload": "in progress", "state": state, "waited": round(wait, 3)}
            return self._envelope(route, ok=True, status=202, data=body)
        if not outcome.ok:
            return self._envelope(route, ok=False, status=503, error=(503, str(outcome.error)))
        data: dict[str, Any] = {"reload": "done", "state": state}
        finished = getattr(outcome, "finished_at", None)
        if finished is not None:
            data["finishedAt"] = finished.isoformat()
            data["age"] = round(outcome.age, 3)
            data["duration"] = round(outcome.duration, 3)
        return self._envelope(route, ok=True, data=data)

    def _envelope(
        self,
        route: str,
        *,
        ok: bool,
        status: int = 200,
        error: tuple[int, str] | None = None,
        data: Any = None,
    ) -> HealthAnswer:
        body = make_envelope(
            route, data, errors=[error] if error and not ok else None, service=self.service
        )
        body["result"] = ok
        body["versions"] = self.versions
        return HealthAnswer(status, json.dumps(body, separators=(",", ":")).encode())


def _core_version() -> str:
    from soajs import __version__

    return __version__
