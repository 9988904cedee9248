"""Closing replaced database clients: after a grace period, off the caller's thread.

A client replaced by a reload (new password, new servers) or pushed out of
the cache may still be in use by a request that took it a moment before.
Closing it at once would fail that request's next operation
(``InvalidOperation: Cannot use MongoClient after close``), so a replaced
client is kept open for ``grace`` seconds, then closed by one daemon thread.

Closing may do network I/O (pymongo sends ``endSessions`` and may wait for
server selection), so it never runs under a lock nor in the caller of
``stop()`` beyond its deadline: each close runs in its own daemon thread and
:func:`close_all` waits for them for at most ``timeout`` seconds. The number
of clients waiting is bounded: past ``limit``, the oldest are closed at once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Retirer", "close_all", "close_one"]

logger = logging.getLogger("soajs.databases")

_ASYNC_CLOSE_TIMEOUT = 10.0
_TASKS: set[asyncio.Task[Any]] = set()  # keeps scheduled async closes alive


def _spawn_close(client: Any) -> None:
    try:
        task = asyncio.ensure_future(client.close())
    except Exception:  # a close that cannot start is dropped
        return
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def _close_async(client: Any) -> None:
    await asyncio.wait_for(client.close(), _ASYNC_CLOSE_TIMEOUT)


def close_one(client: Any, loop: asyncio.AbstractEventLoop | None) -> Callable[[], None]:
    """A callable that closes ``client``: directly (sync), or on its loop (async)."""

    def close() -> None:
        try:
            if not inspect.iscoroutinefunction(client.close):
                client.close()
            elif loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_spawn_close, client)
            else:  # made outside a loop, or its loop is gone: close it in one of our own
                asyncio.run(_close_async(client))
        except Exception as exc:  # a failing close never breaks the caller
            logger.debug("closing a database client failed: %s", type(exc).__name__)

    return close


def close_all(closes: Iterable[Callable[[], None]], timeout: float) -> int:
    """Run every close in its own daemon thread; wait ``timeout`` s at most in all.

    Returns how many were still running at the deadline (they go on)."""
    threads = []
    for close in closes:
        thread = threading.Thread(target=close, name="soajs-db-close", daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + max(0.0, timeout)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for thread in threads if thread.is_alive())


class Retirer:
    """Closes retired clients once their grace period is over (module docstring)."""

    def __init__(self, grace: float, limit: int) -> None:
        self.grace = grace
        self.limit = limit
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: list[tuple[float, Callable[[], None]]] = []
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __len__(self) -> int:
        return len(self._waiting)

    def retire(self, close: Callable[[], None]) -> None:
        """Close later (``grace`` seconds from now), or at once with no grace."""
        if self.grace <= 0:
            close_all([close], 0)
            return
        early: list[Callable[[], None]] = []
        with self._lock:
            if self._stopped:
                early.append(close)
            else:
                self._waiting.append((time.monotonic() + self.grace, close))
                while len(self._waiting) > self.limit:
                    early.append(self._waiting.pop(0)[1])
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="soajs-db-retire", daemon=True
                    )
                    self._thread.start()
                self._wake.notify()
        if early:
            close_all(early, 0)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (
                    not self._waiting or self._waiting[0][0] > time.monotonic()
                ):
                    wait = self._waiting[0][0] - time.monotonic() if self._waiting else None
                    self._wake.wait(wait)
                if self._stopped:
                    return
                now = time.monotonic()
                due = [close for deadline, close in self._waiting if deadline <= now]
                self._waiting = [item for item in self._waiting if item[0] > now]
            close_all(due, 0)  # each in its own thread: a stuck close delays no other

    def drain(self) -> list[Callable[[], None]]:
        """Stop the thread; hand back every close still waiting (to run now)."""
        with self._lock:
            self._stopped = True
            waiting = [close for _, close in self._waiting]
            self._waiting = []
            self._wake.notify()
        return waiting

    def forget(self) -> None:
        """After ``fork()`` in the child: the parent's clients and thread are not ours."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting = []
        self._thread = None
