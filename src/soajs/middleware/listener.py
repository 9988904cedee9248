"""The maintenance listener: health answers on port + ``maintenanceInc``.

Gateway 4.3.4 probes ``GET /heartbeat`` on a service's port +
``serviceConfig.ports.maintenanceInc`` first (PROTOCOL.md). The listener is
one thread running a small asyncio loop (:mod:`soajs.middleware.maintenance_http`
bounds its connections, deadlines and logs) answering through the same
:class:`~soajs.middleware.health.HealthEndpoints` as the service port.

Where it binds, in this order: an explicit ``host``; the IP a self-registering
service advertises (manual deployment: the gateway probes exactly that
address); else the address of this process's own HTTP server on the service
port (``127.0.0.1``, ``::1``, ``0.0.0.0``...), read from its listening socket
as soon as the server has bound it (meanwhile, and when it cannot be found:
``0.0.0.0``).

Under several workers one process holds the port; the others say who holds
it (another worker of this service, another program...) and stand by: they
try again every ``standby_interval`` seconds, so the port is taken over when
its holder goes. A ``--preload`` master hands the listener to its workers
(:mod:`soajs.workers`).

The port may depend on the registry (``maintenanceInc``): a listener started
before the registry is loaded serves the gateway's default meanwhile and moves
once it is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any

from soajs import workers
from soajs.errors import ConfigurationError
from soajs.middleware.binding import bind, check_port, server_address
from soajs.middleware.health import HealthEndpoints
from soajs.middleware.listener_loop import ANY_HOST, IN_PROCESS, ListenerLoop
from soajs.middleware.liveness import LoopWatch
from soajs.registry.deployment import maintenance_port

__all__ = ["MaintenanceListener"]

logger = logging.getLogger("soajs.middleware")


def _advertised_ip(registry: Any, config: Any) -> str | None:
    """The IP the service registers with, when it registers itself (manual or host mode)."""
    flow = getattr(registry, "_registration", None)
    plan = getattr(flow, "plan", None)
    if plan is None or not plan.register:
        return None
    if plan.ip_source not in ("SOAJS_SRVIP", "default") and not getattr(config, "ip", None):
        return None  # a detected IP: bind where the server does (as before)
    ip = getattr(config, "ip", None) or plan.ip
    return ip if isinstance(ip, str) and ip else None


class MaintenanceListener(ListenerLoop):
    """Serves the health endpoints on ``host:port`` until :meth:`stop`.

    ``request_timeout``: whole exchange, accept to answer (seconds);
    ``max_connections``: open at once (one more evicts the oldest);
    ``backlog``: of the listening socket; ``stall_timeout``: how long the
    serving event loop may take to answer before the probes say 503.
    """

    def __init__(
        self,
        health: HealthEndpoints,
        port: int | Callable[[], int | None],
        host: str | None = None,
        settled: Callable[[], bool] | None = None,
        *,
        service_port: int | None = None,
        request_timeout: float = 5.0,
        max_connections: int = 128,
        backlog: int = 128,
        stall_timeout: float = 2.0,
    ) -> None:
        """``port``: a number, or a function giving it (``None``: do not serve).

        ``host``: ``None`` binds where the service's own server listens on
        ``service_port`` (``0.0.0.0`` until that is known). ``settled``: when
        given and false at :meth:`start`, the port is provisional; it is asked
        again once ``settled()`` is true, and the listener moves there if it changed.
        """
        for value, name in ((request_timeout, "request_timeout"), (stall_timeout, "stall_timeout")):
            if not value > 0:
                raise ConfigurationError(f"{name} must be > 0 seconds, got {value!r}")
        if max_connections < 1 or backlog < 1:
            raise ConfigurationError("max_connections and backlog must be >= 1")
        self.health = health
        self._port_source = port
        self.port: int | None = port if isinstance(port, int) else None
        self._fixed_host = host
        self.host = host or ANY_HOST
        self._settled = settled
        self.service_port = service_port
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.backlog = backlog
        self.stall_timeout = stall_timeout
        self.watch = LoopWatch()
        self._lock = threading.Lock()
        self._thread = None
        self._loop = None
        self._wake = None
        self._stopping = threading.Event()
        self._sock = None
        self._server = None
        self._http = None
        self._handed = False
        self._next_try = 0.0
        workers.register(self)

    @classmethod
    def for_registry(
        cls,
        registry: Any,
        health: HealthEndpoints | None,
        host: str | None = None,
        **options: Any,
    ) -> MaintenanceListener | None:
        """A listener on the registry Config's maintenance port, or ``None`` without a Config.

        The port is worked out at :meth:`start`, once the registry (and its
        ``serviceConfig.ports.maintenanceInc``) is loaded; a port beyond 65535
        is a :class:`~soajs.errors.ConfigurationError` there. ``host`` defaults
        to the IP the service registers itself with (manual deployment), else
        the address of the service's own server.
        """
        config = getattr(registry, "config", None)
        if health is None:
            return None
        if config is None:
            if registry is not None:
                logger.info(
                    "maintenance listener not started for %r: its registry has no Config "
                    "(the maintenance port is the Config's port + maintenanceInc, where the "
                    "gateway probes /heartbeat first); the health paths are answered on the "
                    "service port only. To serve them there too, build the registry with "
                    "config=Config(name=..., group=..., port=...)",
                    health.service,
                )
            return None
        if host is None:
            host = _advertised_ip(registry, config)

        def port() -> int | None:
            try:
                inc = registry.registry.maintenance_inc
            except Exception:  # not loaded: the gateway default applies
                inc = None
            settings = getattr(registry, "settings", None)
            value: int = (
                maintenance_port(settings, config, inc)
                if settings is not None
                else config.maintenance_port(inc)
            )
            if not 1 <= value <= 65535:
                kind = config.maintenance.port.type
                why = (
                    f"service port {config.port} + maintenanceInc {1000 if inc is None else inc}"
                    if kind == "maintenance"
                    else f"maintenance.port type {kind!r}"
                )
                raise ConfigurationError(
                    f"the maintenance port of {config.name!r} would be {value} ({why}), "
                    "beyond 65535: use a lower service port, or set maintenance.port to "
                    '{"type": "custom", "value": N} or {"type": "inherit"}'
                )
            return value

        def settled() -> bool:
            # only the "maintenance" type depends on the registry (maintenanceInc)
            if config.maintenance.port.type != "maintenance":
                return True
            return bool(getattr(registry, "is_ready", True))

        return cls(health, port, host, settled=settled, service_port=config.port, **options)

    # -- state --------------------------------------------------------------------
    def watch_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Answer 503 when ``loop`` (the serving event loop) does not run (ASGI)."""
        self.watch.watch(loop)

    def server_seen(self, port: int | None) -> None:
        """A request came in on ``port``: bind where that server listens, if not yet."""
        loop = self._loop
        if self._fixed_host is not None or port is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # stopped meanwhile
            loop.call_soon_threadsafe(self._follow_now, port)

    # -- start / stop -------------------------------------------------------------
    def start(self) -> bool:
        """Bind and serve; False when another process (or listener) has the port.

        Raises :class:`~soajs.errors.ConfigurationError` for a port that
        cannot be (beyond 65535, say).
        """
        with self._lock:
            self._stopping.clear()
            self._handed = False
            if self._thread is not None and self._thread.is_alive():
                return self._server is not None
            port = self._current_port()
            if port is None:
                return False
            self._server_found = False
            if self._fixed_host is None and self.service_port is not None:
                found = server_address(self.service_port)
                self._server_found = found is not None
                self.host = found or ANY_HOST
            sock, standby = self._try_bind(self.host, port)
            self.port = port
            if sock is None and not standby:
                return False
            self._start_thread(sock)
            return sock is not None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the thread (at most ``timeout`` s). Idempotent."""
        self._stopping.set()
        with self._lock:
            thread, loop, wake = self._thread, self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("maintenance listener did not stop within %.1fs", timeout)
        with self._lock:
            if self._thread is thread:
                self._thread = None
                self._loop = None

    # -- fork (soajs.workers) ------------------------------------------------------
    def hand_off(self) -> None:
        """A ``--preload`` master forks: stop, so that a worker can take the port."""
        if self._thread is not None:
            self.stop()
            self._handed = True

    def after_fork_in_child(self, start: bool) -> None:
        """Drop the parent's thread and socket; start afresh in a worker of a master."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = None
        self._loop = None
        self._wake = None
        self._server = None
        self._http = None
        self.watch.watch(None)
        if self._sock is not None:  # this process's copy of the parent's socket
            self._sock.close()
            self._sock = None
        if start and self._handed:
            self._handed = False
            try:
                self.start()
            except Exception:
                logger.exception("maintenance listener did not start in worker")

    def take_back(self) -> None:
        """The master serves requests itself after all: serve again."""
        if self._handed:
            self.start()

    # -- binding -------------------------------------------------------------------
    def _current_port(self) -> int | None:
        source = self._port_source
        port = source if isinstance(source, int) else source()
        if port is None:
            return None
        return check_port(port, "the maintenance port")

    def _try_bind(self, host: str, port: int) -> tuple[socket.socket | None, bool]:
        """``(socket, False)``; ``(None, True)``: taken, stand by; ``(None, False)``: give up."""
        try:
            try:
                sock = bind(host, port, self.backlog)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL or host == ANY_HOST:
                    raise
                # the advertised IP is not on this machine (NAT, a proxy)
                logger.info("maintenance listener: %s is not a local address", host)
                self._fixed_host = None
                self.host = host = ANY_HOST
                sock = bind(host, port, self.backlog)
        except OSError as exc:
            return None, self._not_bound(host, port, exc)
        self._sock = sock
        self.host = host
        IN_PROCESS[port] = weakref.ref(self)
        return sock, False

    def _not_bound(self, host: str, port: int, exc: OSError) -> bool:
        """Log what is true about a failed bind; True when it is worth trying again."""
        where = f"{host}:{port}"
        if exc.errno != errno.EADDRINUSE:
            logger.error("maintenance listener not started on %s: %s", where, exc.strerror or exc)
            return False
        other = IN_PROCESS.get(port)
        holder = other() if other is not None else None
        if holder is not None and holder is not self and holder.is_serving:
            logger.info(
                "maintenance listener not started on %s: another listener of this "
                "process (pid %s) serves it",
                where,
                os.getpid(),
            )
            return False
        if self.service_port is not None and server_address(port) is not None:
            logger.info(
                "maintenance listener not started on %s: it is this process's own server "
                "port, where the middleware answers the health paths",
                where,
            )
            return False
        return True  # who holds it is found out (and logged) by the standby loop
