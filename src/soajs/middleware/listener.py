"""The maintenance listener: health answers on port + ``maintenanceInc``.

Gateway 4.3.4 probes ``GET /heartbeat`` on a service's port +
``serviceConfig.ports.maintenanceInc`` first (PROTOCOL.md). This is a tiny
stdlib HTTP server on a daemon thread answering through the same
:class:`~soajs.middleware.health.HealthEndpoints`. Under several workers only
one process can bind the port; the others log it at INFO and go on.

A service that registers itself (manual deployment) listens on the IP it
advertises, since that is the address the gateway probes; else (or when that
IP is not on this machine) on every interface.

The port may depend on the registry (``maintenanceInc``). A listener started
before the registry is loaded serves the gateway's default meanwhile and moves
to the registry's port once it is loaded (a ``soajs-maintenance-wait`` thread
watches for that, and ends with :meth:`MaintenanceListener.stop`).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from soajs.middleware.health import HealthEndpoints

__all__ = ["MaintenanceListener"]

logger = logging.getLogger("soajs.middleware")

#: Every interface.
ANY_HOST = "0.0.0.0"


def _advertised_ip(registry: Any, config: Any) -> str | None:
    """The IP the service registers with, when it registers itself (manual deployment)."""
    settings = getattr(registry, "settings", None)
    if settings is None or not getattr(settings, "deploy_manual", False):
        return None
    ip = getattr(config, "ip", None) or getattr(settings, "srv_ip", None)
    return ip if isinstance(ip, str) and ip else None


class MaintenanceListener:
    """Serves the health endpoints on ``host:port`` until :meth:`stop`."""

    #: How often, until the registry is loaded, the wait thread checks whether it is.
    settle_interval = 0.2

    def __init__(
        self,
        health: HealthEndpoints,
        port: int | Callable[[], int | None],
        host: str = ANY_HOST,
        settled: Callable[[], bool] | None = None,
    ) -> None:
        """``port``: a number, or a function giving it (``None``: do not serve).

        ``settled``: when given and false at :meth:`start`, the port is
        provisional; it is asked again once ``settled()`` is true, and the
        listener moves there if it changed.
        """
        self.health = health
        self._port_source = port
        self.port: int | None = port if isinstance(port, int) else None
        self.host = host
        self._settled = settled
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._waiter: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def for_registry(
        cls, registry: Any, health: HealthEndpoints | None, host: str | None = None
    ) -> MaintenanceListener | None:
        """A listener on the registry Config's maintenance port, or ``None`` without a Config.

        The port is worked out at :meth:`start`, once the registry (and its
        ``serviceConfig.ports.maintenanceInc``) is loaded. ``host`` defaults to
        the IP the service registers itself with (manual deployment: the
        gateway probes exactly that address, and another instance on another
        IP of the same machine must not answer for this one), else all
        interfaces.
        """
        config = getattr(registry, "config", None)
        if config is None or health is None:
            return None
        if host is None:
            host = _advertised_ip(registry, config) or ANY_HOST

        def port() -> int | None:
            try:
                inc = registry.registry.maintenance_inc
            except Exception:  # not loaded: the gateway default applies
                inc = None
            value: int = config.maintenance_port(inc)
            return value

        def settled() -> bool:
            # only the "maintenance" type depends on the registry (maintenanceInc)
            if config.maintenance.port.type != "maintenance":
                return True
            return bool(getattr(registry, "is_ready", True))

        return cls(health, port, host, settled=settled)

    @property
    def is_serving(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Bind and serve; False (logged at INFO) when another process has the port."""
        with self._lock:
            self._stopping.clear()
            if self._server is not None:
                return True
            port = self._current_port()
            if port is None:
                return False
            serving = self._bind(port)
            if self._settled is not None and not self._settled():
                self._watch_until_settled()
            return serving

    def _current_port(self) -> int | None:
        source = self._port_source
        return source if isinstance(source, int) else source()

    def _watch_until_settled(self) -> None:
        if self._waiter is not None and self._waiter.is_alive():
            return
        self._waiter = threading.Thread(
            target=self._settle, name="soajs-maintenance-wait", daemon=True
        )
        self._waiter.start()

    def _settle(self) -> None:
        """Once the port is final, move there if it is not where the listener serves."""
        settled = self._settled
        assert settled is not None
        while not self._stopping.wait(self.settle_interval):
            if not settled():
                continue
            with self._lock:
                if self._stopping.is_set():
                    return
                port = self._current_port()
                server = self._server
                if port is None or (server is not None and port == self.port):
                    return
                old_thread, self._server, self._thread = self._thread, None, None
                if server is not None:
                    logger.info("maintenance listener moves to port %d (from the registry)", port)
                    server.shutdown()
                    server.server_close()
                    if old_thread is not None:
                        old_thread.join(5)
                self._bind(port)
            return

    def _bind(self, port: int) -> bool:
        """Serve on ``port``; call with the lock held."""
        health = self.health

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # an idle client does not hold a thread for ever

            def _serve(self) -> None:
                # One answer per connection: a kept-alive connection would go on
                # answering after stop() (server_close only closes the listening
                # socket), and the gateway would see a stopped service as healthy.
                self.close_connection = True
                path = self.path.split("?", 1)[0]
                answer = health.answer("GET", path)
                if answer is None:
                    self.send_error(404)
                    return
                self.send_response(answer.status)
                self.send_header("Connection", "close")
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = _serve
            do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("maintenance listener: " + format, *args)

        try:
            try:
                server = ThreadingHTTPServer((self.host, port), Handler)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL or self.host == ANY_HOST:
                    raise
                # the advertised IP is not on this machine (NAT, a proxy): every interface
                logger.info("maintenance listener: %s is not a local address", self.host)
                self.host = ANY_HOST
                server = ThreadingHTTPServer((self.host, port), Handler)
        except OSError as exc:
            logger.info(
                "maintenance listener not started on %s:%d (%s); another worker serves it",
                self.host,
                port,
                exc.strerror or exc,
            )
            return False
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"soajs-maintenance-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("maintenance listener on %s:%d", self.host, self.port)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the threads. Idempotent."""
        self._stopping.set()
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
            waiter, self._waiter = self._waiter, None
        if server is not None:
            server.shutdown()
            server.server_close()
        for each in (thread, waiter):
            if each is not None and each is not threading.current_thread():
                each.join(timeout)
