"""The maintenance listener's HTTP side: one asyncio loop, bounded in every way.

* one thread (the loop) whatever the number of clients; a ``/reloadRegistry``
  runs on a pool of at most :data:`RELOAD_THREADS` threads;
* at most ``max_connections`` connections at once: one more evicts the oldest
  (a slowloris client cannot lock a real probe out, whose whole exchange takes
  a millisecond);
* a whole-request deadline, from accept to the last byte of the answer;
* a request head of at most :data:`MAX_HEAD` bytes; one answer per connection;
  bytes that cannot start an HTTP/1 request line (garbage, a TLS ClientHello)
  are answered 400 as soon as they arrive, not at the deadline;
* client errors (resets, timeouts, garbage) are counted, never printed: one
  INFO line per :data:`REPORT_INTERVAL` with the counts.

``/heartbeat`` and the readiness path also ask the serving process's event
loop (ASGI) whether it runs (:class:`~soajs.middleware.liveness.LoopWatch`):
a loop that does not answer within ``stall_timeout`` makes them 503.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from soajs.middleware.binding import LISTENER_HEADER
from soajs.middleware.health import HealthAnswer, HealthEndpoints
from soajs.middleware.liveness import LoopWatch
from soajs.observability.export import METRICS_PATH, metrics_answer

__all__ = ["HealthServer"]

logger = logging.getLogger("soajs.middleware")

MAX_HEAD = 8192
ACCEPT_BATCH = 64
RELOAD_THREADS = 2
REPORT_INTERVAL = 60.0

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",  # /metrics could not be built
    501: "Not Implemented",
    503: "Service Unavailable",
}


_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_LINE = re.compile(_TOKEN + rb"{1,20} [^\x00-\x20\x7f]+ HTTP/\d\.\d\r\n")
_PARTIAL = re.compile(
    _TOKEN + rb"{0,20}|" + _TOKEN + rb"{1,20} [^\x00-\x20\x7f]*"
    rb"|" + _TOKEN + rb"{1,20} [^\x00-\x20\x7f]+ (H(T(T(P(/(\d(\.(\d\r?)?)?)?)?)?)?)?)?"
)


def request_line_plausible(data: bytes) -> bool:
    """False as soon as ``data`` cannot start ``METHOD SP target SP HTTP/x.y CRLF``."""
    end = data.find(b"\n")
    if end >= 0:
        return _LINE.fullmatch(data[: end + 1]) is not None
    return _PARTIAL.fullmatch(data) is not None


class HealthServer:
    """Serves :class:`HealthEndpoints` on an asyncio loop (call everything on that loop)."""

    def __init__(
        self,
        health: HealthEndpoints,
        identity: str,
        *,
        watch: LoopWatch,
        request_timeout: float,
        max_connections: int,
        stall_timeout: float,
    ) -> None:
        self.health = health
        self.identity = identity
        self.watch = watch
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.stall_timeout = stall_timeout
        self._active: dict[asyncio.Task[Any], None] = {}  # insertion order: oldest first
        self._tasks: set[asyncio.Task[Any]] = set()  # every running handler, evicted ones too
        self._transports: set[asyncio.Transport] = set()  # every open connection
        self._pending: set[socket.socket] = set()  # accepted, not yet a transport
        self._pool: ThreadPoolExecutor | None = None
        self._counts: Counter[str] = Counter()
        self._last_report = time.monotonic()

    # -- connections ----------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._active[task] = None
        self._tasks.add(task)
        while len(self._active) > self.max_connections:
            oldest = next(iter(self._active))
            del self._active[oldest]  # counted out now: its cancellation runs later
            oldest.cancel()
            self._count("evicted")
        answered = False
        try:
            async with asyncio.timeout(self.request_timeout):
                status, body, content_type = await self._exchange(reader)
                writer.write(self._response(status, body, content_type))
                await writer.drain()
                answered = True
        except TimeoutError:
            self._count("timed out")
        except asyncio.CancelledError:
            pass  # evicted, or the listener stops: the connection just closes
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self._count("reset")
        except Exception:  # a bug must not kill the loop
            logger.exception("maintenance listener: unexpected error")
        finally:
            self._active.pop(task, None)
            self._tasks.discard(task)
            if answered:
                writer.close()
            else:
                writer.transport.abort()

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes | int:
        """The request head, or the status that refuses it (400 as soon as the bytes
        received cannot start an HTTP/1 request line: garbage, a TLS ClientHello)."""
        data = b""
        while True:
            chunk = await reader.read(MAX_HEAD + 1 - len(data))
            if not chunk:
                raise asyncio.IncompleteReadError(data, None)
            data += chunk
            end = data.find(b"\r\n\r\n")
            if not request_line_plausible(data):
                self._count("malformed")
                return 400
            if end >= 0:
                return data[: end + 4]
            if len(data) > MAX_HEAD:
                self._count("too large")
                return 431

    async def _exchange(self, reader: asyncio.StreamReader) -> tuple[int, bytes, str]:
        head = await self._read_head(reader)
        if isinstance(head, int):
            return head, b"", "text/plain"
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        method = parts[0].decode("latin-1")
        path = parts[1].split(b"?", 1)[0].decode("latin-1")
        health = self.health
        if path == METRICS_PATH and method in ("GET", "HEAD"):  # Prometheus text, all workers
            status, text, kind = await asyncio.to_thread(metrics_answer)
            return status, b"" if method == "HEAD" else text, kind
        if path not in health.paths or method not in ("GET", "HEAD"):
            # As Node's maintenance app: any other path or method answers the heartbeat
            # (nothing is reloaded, nothing of the request is read beyond its head).
            method, path = ("HEAD" if method == "HEAD" else "GET"), "/heartbeat"
        answer = await self._answer(method, path)
        body = b"" if method == "HEAD" else answer.body
        return answer.status, body, answer.content_type

    async def _answer(self, method: str, path: str) -> HealthAnswer:
        health = self.health
        if health.needs_io(path):
            answer_async = getattr(health, "answer_async", None)
            if answer_async is not None:  # the registry's own worker does the I/O
                awaited: HealthAnswer | None = await answer_async(method, path)
                assert awaited is not None
                return awaited
            if self._pool is None:
                self._pool = ThreadPoolExecutor(RELOAD_THREADS, "soajs-listener-reload")
            loop = asyncio.get_running_loop()
            reloaded = await loop.run_in_executor(self._pool, health.answer, method, path)
            assert reloaded is not None
            return reloaded
        problem = await self.watch.stalled(self.stall_timeout)
        if problem is not None:
            return health.unhealthy(path, problem)
        answer = health.answer(method, path)
        assert answer is not None
        return answer

    def _response(self, status: int, body: bytes, content_type: str) -> bytes:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{LISTENER_HEADER}: {self.identity}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode("latin-1") + body

    # -- bounded reporting ------------------------------------------------------
    def _count(self, what: str) -> None:
        self._counts[what] += 1
        now = time.monotonic()
        if now - self._last_report >= REPORT_INTERVAL:
            self.report(now)

    def report(self, now: float | None = None) -> None:
        """One INFO line with what went wrong since the last one (if anything did)."""
        self._last_report = time.monotonic() if now is None else now
        if self._counts:
            summary = ", ".join(f"{n} {what}" for what, n in sorted(self._counts.items()))
            logger.info("maintenance listener: client connections that ended early: %s", summary)
            self._counts.clear()

    def loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: transport errors are counted, not printed."""
        exc = context.get("exception")
        if isinstance(exc, OSError | asyncio.CancelledError):
            self._count("reset")
            return
        logger.error("maintenance listener: %s", context.get("message"), exc_info=exc)

    # -- stop --------------------------------------------------------------------
    def serve(self, sock: socket.socket) -> Callable[[], None]:
        """Accept on ``sock`` (bound, listening, non-blocking); returns what stops it.

        Its own accept rather than ``loop.create_server``: on 3.11 a connection
        accepted as a server closes fails in ``Server._attach`` and its socket
        stays open. Here every accepted socket is tracked until a transport
        owns it, and :meth:`close` closes whatever is left.
        """
        loop = asyncio.get_running_loop()
        fd = sock.fileno()
        loop.add_reader(fd, self._accept, loop, sock)

        def stop() -> None:
            loop.remove_reader(fd)

        return stop

    def _accept(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of fds, say: count it and pause accepting a moment
                self._count("not accepted")
                loop.remove_reader(sock.fileno())
                loop.call_later(0.1, self._resume, loop, sock)
                return
            conn.setblocking(False)
            self._pending.add(conn)
            loop.create_task(self._connect(loop, conn))

    def _resume(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        if sock.fileno() != -1:
            loop.add_reader(sock.fileno(), self._accept, loop, sock)

    async def _connect(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(self._protocol, conn)
        except OSError:
            conn.close()
            self._count("reset")
        finally:
            self._pending.discard(conn)

    def _protocol(self) -> asyncio.Protocol:
        reader = asyncio.StreamReader(limit=MAX_HEAD)
        return _Tracked(reader, self.handle, self._transports)

    async def close(self) -> None:
        """Close every connection (call after the server stopped accepting)."""
        # A connection accepted just now takes a few loop rounds to reach its
        # handler (accept, transport, protocol, task): abort every transport and
        # cancel every handler for a few rounds, so none is left behind.
        for _ in range(8):
            await asyncio.sleep(0)
            for transport in list(self._transports):
                transport.abort()
            for conn in list(self._pending):  # accepted, no transport yet
                conn.close()
            self._pending.clear()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=1.0)
        for _ in range(2):  # the aborted transports close their sockets
            await asyncio.sleep(0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.report()


class _Tracked(asyncio.StreamReaderProtocol):
    """A stream protocol whose transport is known from the start, to be closed at stop."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        handle: Any,
        transports: set[asyncio.Transport],
    ) -> None:
        super().__init__(reader, handle)
        self._open = transports
        self._mine: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self._mine = transport
            self._open.add(transport)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._mine is not None:
            self._open.discard(self._mine)
        super().connection_lost(exc)
