"""The maintenance listener's HTTP side: one asyncio loop, bounded in every way.

* one thread (the loop) whatever the number of clients; a ``/reloadRegistry``
  runs on a pool of at most :data:`RELOAD_THREADS` threads;
* at most ``max_connections`` connections at once: one more evicts the oldest
  (a slowloris client cannot lock a real probe out, whose whole exchange takes
  a millisecond);
* a whole-request deadline, from accept to the last byte of the answer;
* a request head of at most :data:`MAX_HEAD` bytes; one answer per connection;
* client errors (resets, timeouts, garbage) are counted, never printed: one
  INFO line per :data:`REPORT_INTERVAL` with the counts.

``/heartbeat`` and the readiness path also ask the serving process's event
loop (ASGI) whether it runs (:class:`~soajs.middleware.liveness.LoopWatch`):
a loop that does not answer within ``stall_timeout`` makes them 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from soajs.middleware.binding import LISTENER_HEADER
from soajs.middleware.health import HealthAnswer, HealthEndpoints
from soajs.middleware.liveness import LoopWatch

__all__ = ["HealthServer"]

logger = logging.getLogger("soajs.middleware")

MAX_HEAD = 8192
RELOAD_THREADS = 2
REPORT_INTERVAL = 60.0

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
}


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
        self._pool: ThreadPoolExecutor | None = None
        self._counts: Counter[str] = Counter()
        self._last_report = time.monotonic()

    # -- connections ----------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._active[task] = None
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
            if answered:
                writer.close()
            else:
                writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader) -> tuple[int, bytes, str]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            self._count("too large")
            return 431, b"", "text/plain"
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            self._count("malformed")
            return 400, b"", "text/plain"
        method = parts[0].decode("latin-1")
        path = parts[1].split(b"?", 1)[0].decode("latin-1")
        health = self.health
        if path not in health.paths:
            return 404, b"", "text/plain"
        if method not in ("GET", "HEAD"):
            return 405, b"", "text/plain"
        answer = await self._answer(method, path)
        body = b"" if method == "HEAD" else answer.body
        return answer.status, body, answer.content_type

    async def _answer(self, method: str, path: str) -> HealthAnswer:
        health = self.health
        if health.needs_io(path):
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
    async def close(self) -> None:
        """Cancel every connection; the reload pool stops without waiting."""
        tasks = list(self._active)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.report()
