"""The maintenance listener's thread: one asyncio loop that serves, follows and stands by.

:class:`ListenerLoop` is the running half of
:class:`~soajs.middleware.listener.MaintenanceListener`: it serves the bound
socket (:class:`~soajs.middleware.maintenance_http.HealthServer`), moves to the
registry's port once it is known, follows the service's server to its address,
and, when the port is taken, stands by and takes it over once it is free. All
of it on the one loop thread, which sleeps when there is nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable

from soajs.errors import ConfigurationError
from soajs.middleware.binding import ask_port, bind, describe_holder, identity, server_address
from soajs.middleware.health import HealthEndpoints
from soajs.middleware.liveness import LoopWatch
from soajs.middleware.maintenance_http import HealthServer

__all__ = ["ANY_HOST", "IN_PROCESS", "ListenerLoop", "bracket"]

logger = logging.getLogger("soajs.middleware")

#: Every interface (until the server's own address is known).
ANY_HOST = "0.0.0.0"

#: The listeners of this process that hold a port, by port.
IN_PROCESS: dict[int, weakref.ref[ListenerLoop]] = {}


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class ListenerLoop:
    """The loop-thread half of the listener (state shared with the subclass)."""

    #: How often, until the registry is loaded, the listener checks whether it is.
    settle_interval = 0.2
    #: How often a listener whose port is taken tries again.
    standby_interval = 2.0
    #: How long after start the listener looks for the server's own socket.
    follow_window = 60.0

    health: HealthEndpoints
    port: int | None
    host: str
    service_port: int | None
    request_timeout: float
    max_connections: int
    backlog: int
    stall_timeout: float
    watch: LoopWatch
    _fixed_host: str | None
    _settled: Callable[[], bool] | None
    _thread: threading.Thread | None
    _loop: asyncio.AbstractEventLoop | None
    _wake: asyncio.Event | None
    _stopping: threading.Event
    _sock: socket.socket | None
    _server: Callable[[], None] | None  # stops accepting
    _http: HealthServer | None
    _next_try: float
    #: The server's own socket was found (the listener binds where it does).
    _server_found: bool = False

    @property
    def is_serving(self) -> bool:
        """True while this listener holds its port and answers."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._server is not None

    def _current_port(self) -> int | None:
        raise NotImplementedError

    def _try_bind(self, host: str, port: int) -> tuple[socket.socket | None, bool]:
        raise NotImplementedError

    def _start_thread(self, sock: socket.socket | None) -> None:
        ready = threading.Event()
        name = f"soajs-{'maintenance' if sock is not None else 'standby'}-{self.port}"
        thread = threading.Thread(target=self._run, args=(sock, ready), name=name, daemon=True)
        self._thread = thread
        thread.start()
        ready.wait(5)

    def _run(self, sock: socket.socket | None, ready: threading.Event) -> None:
        # asyncio.Runner also cancels what is still pending when _main ends (a
        # connection accepted in the very last round) and lets the transports
        # close their sockets before the loop closes.
        try:
            with asyncio.Runner() as runner:
                runner.run(self._main(runner.get_loop(), sock, ready))
        except Exception:
            logger.exception("maintenance listener stopped on an unexpected error")
        finally:
            ready.set()

    async def _main(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket | None, ready: threading.Event
    ) -> None:
        http = HealthServer(
            self.health,
            identity(self.health.service),
            watch=self.watch,
            request_timeout=self.request_timeout,
            max_connections=self.max_connections,
            stall_timeout=self.stall_timeout,
        )
        loop.set_exception_handler(http.loop_error)
        self._http = http
        self._wake = asyncio.Event()
        self._loop = loop
        try:
            if sock is not None:
                await self._serve(sock)
                ready.set()
            else:
                ready.set()
                await self._standby_first()
            started = time.monotonic()
            while not self._stopping.is_set():
                await self._tick(started)
                try:
                    async with asyncio.timeout(self._idle(started)):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        finally:
            await self._close_server()
            await http.close()
            self._http = None
            self._wake = None

    def _following(self, started: float) -> bool:
        return (
            self._fixed_host is None
            and self.service_port is not None
            and self._server is not None
            and self.host == ANY_HOST
            and not self._server_found
            and time.monotonic() - started < self.follow_window
        )

    def _idle(self, started: float) -> float | None:
        """How long the loop may sleep: short while settling or following, else until woken."""
        if self._settled is not None or self._following(started):
            return self.settle_interval
        if self._server is None:
            return self.standby_interval
        return None

    async def _tick(self, started: float) -> None:
        """One round of the background duties: settle, follow the server, stand by."""
        port = self.port
        if self._settled is not None and self._settled():
            self._settled = None
            try:
                new = self._current_port()
            except ConfigurationError as exc:
                logger.error("maintenance listener stays on port %s: %s", port, exc)
                new = None
            if new is not None and new != port:
                logger.info("maintenance listener moves to port %d (from the registry)", new)
                await self._move(self.host, new)
                return
        if self._following(started) and self.service_port is not None:
            self._follow_now(self.service_port)
        if self._server is None and self._sock is None and port is not None:
            await self._standby_retry(port)

    def _follow_now(self, port: int) -> None:
        if self._stopping.is_set() or self._fixed_host is not None:
            return
        host = server_address(port, exclude=self._sock)
        if host is not None:
            self._server_found = True  # found: no more looking (whatever the address)
        if host is not None and host != self.host and self.port is not None:
            logger.info("maintenance listener follows the server's address: %s", host)
            asyncio.get_running_loop().create_task(self._move(host, self.port))

    async def _serve(self, sock: socket.socket) -> None:
        assert self._http is not None
        self._sock = sock
        self._server = self._http.serve(sock)
        threading.current_thread().name = f"soajs-maintenance-{self.port}"
        logger.info("maintenance listener on %s:%d", bracket(self.host), self.port)

    async def _close_server(self, *, moving: bool = False) -> None:
        """Stop accepting and close the socket; ``moving``: a new one follows at once,
        so :attr:`is_serving` does not flicker (it is replaced, not cleared)."""
        server = self._server
        if not moving:
            self._server = None
        sock, self._sock = self._sock, None
        if server is not None:
            server()
        if sock is not None:
            sock.close()
        if self.port is not None:
            ref = IN_PROCESS.get(self.port)
            if ref is not None and ref() is self:
                del IN_PROCESS[self.port]

    async def _move(self, host: str, port: int) -> None:
        if (host, port) == (self.host, self.port) and self._server is not None:
            return
        await self._close_server(moving=True)
        self.port = port
        sock, standby = self._try_bind(host, port)
        if sock is not None:
            await self._serve(sock)
            return
        self._server = None
        if standby:
            await self._standby_first()

    async def _standby_first(self) -> None:
        assert self.port is not None
        threading.current_thread().name = f"soajs-standby-{self.port}"
        answer = None
        for _ in range(3):  # a sibling that is just starting may take a moment to answer
            answer = await ask_port(self.host, self.port)
            if answer is not None or self._stopping.is_set():
                break
        what, sibling = describe_holder(answer, self.health.service, deadline=3.0)
        log = logger.info if sibling else logger.warning
        log(
            "maintenance listener not started on %s:%d: %s; this process stands by and "
            "takes the port over when it is free (tries every %gs)",
            bracket(self.host),
            self.port,
            what,
            self.standby_interval,
        )
        self._next_try = time.monotonic() + self.standby_interval

    async def _standby_retry(self, port: int) -> None:
        if time.monotonic() < self._next_try:
            return
        self._next_try = time.monotonic() + self.standby_interval
        try:
            sock = bind(self.host, port, self.backlog)
        except OSError:
            return
        IN_PROCESS[port] = weakref.ref(self)
        await self._serve(sock)
        logger.info("maintenance listener took port %d over (its holder went away)", port)
