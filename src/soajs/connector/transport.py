"""The pooled httpx clients every connector shares: one per process, one per event loop.

A client per call pays a TCP (and TLS) handshake every time; these keep
connections alive and reuse them. The sync client is created on first use
and closed at interpreter exit (or by :func:`close`); after a ``fork`` the
child starts with a new one, never the parent's sockets.

An async client belongs to one event loop, and **closes with it**: when it
is made, a small async generator is started on that loop, and the loop's
shutdown (``loop.shutdown_asyncgens()``, which ``asyncio.run``,
``asyncio.Runner``, asgiref's ``async_to_sync`` (Flask and Django async views
under WSGI) and uvicorn all run before closing a loop) finalizes it, which
closes the client and its sockets. So a new loop per request leaves nothing
behind. ``await aclose()`` closes the running loop's client earlier (e.g. in
a lifespan handler). A loop closed by hand without ``shutdown_asyncgens()``
cannot run that: its client is dropped the next time a loop makes one, and
its sockets are closed when it is garbage-collected.

Outbound calls are service-to-service, so the clients ignore proxy
environment variables (``trust_env=False``) and keep no cookies (one
tenant's session cookie must not ride on another tenant's call). Their
sockets obey the connector's wall-clock deadlines
(:func:`~soajs.connector.deadline.deadline_transport`). Timeouts are set per call.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.cookiejar
import os
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from soajs.connector.deadline import deadline_transport

__all__ = [
    "DEFAULT_LIMITS",
    "aclose",
    "async_client",
    "async_clients",
    "close",
    "set_limits",
    "sync_client",
]

DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
)

_lock = threading.Lock()
_limits = DEFAULT_LIMITS
_sync: httpx.Client | None = None


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A shared client must not carry one caller's cookies into another's calls."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def _jar() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(policy=_NoCookies())


class _LoopClient:
    """A loop's client and the async generator whose finalization closes it."""

    __slots__ = ("abandoned", "client", "closer", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
        self.loop = weakref.ref(loop)
        self.client = client
        self.abandoned = False
        self.closer = _close_with_loop(self)


_async: dict[int, _LoopClient] = {}  # id(loop) -> its client; entries leave with their loop


async def _close_with_loop(entry: _LoopClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _forget(entry)
        if not entry.abandoned:
            await entry.client.aclose()


def _forget(entry: _LoopClient) -> None:
    with _lock:
        for key, value in list(_async.items()):
            if value is entry:
                del _async[key]


def _start(entry: _LoopClient) -> None:
    """Run ``entry.closer`` to its ``yield``: the running loop now finalizes it at shutdown.

    Starting an async generator registers it with the running loop's
    ``sys.set_asyncgen_hooks`` (``firstiter``); no await happens before the yield.
    """
    step = entry.closer.asend(None)
    try:
        step.send(None)
    except StopIteration:
        return
    raise RuntimeError("the closer of a loop's client awaited before its first yield")


def _abandon(entry: _LoopClient) -> None:
    """Close ``entry.closer`` without a loop (its loop is gone): no await, nothing scheduled."""
    entry.abandoned = True
    step = entry.closer.aclose()
    with contextlib.suppress(StopIteration, RuntimeError):
        step.send(None)


def set_limits(limits: httpx.Limits) -> None:
    """Pool limits for clients created from now on (call before the first request)."""
    global _limits
    _limits = limits


def sync_client() -> httpx.Client:
    """The process's pooled :class:`httpx.Client`."""
    client = _sync
    if client is not None:
        return client
    return _new_sync()


def _new_sync() -> httpx.Client:
    global _sync
    with _lock:
        if _sync is None:
            _sync = httpx.Client(
                transport=deadline_transport(limits=_limits, trust_env=False),
                trust_env=False,
                cookies=_jar(),
            )
        return _sync


def async_client() -> httpx.AsyncClient:
    """The running loop's pooled :class:`httpx.AsyncClient` (closed when the loop shuts down)."""
    loop = asyncio.get_running_loop()
    entry = _async.get(id(loop))
    if entry is not None and entry.loop() is loop:
        return entry.client
    return _new_async(loop)


def _new_async(loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
    with _lock:
        stale = [
            key
            for key, e in _async.items()
            if (gone := e.loop()) is None or gone.is_closed() or gone is loop
        ]
        dropped = [_async.pop(key) for key in stale]
        entry = _LoopClient(
            loop, httpx.AsyncClient(limits=_limits, trust_env=False, cookies=_jar())
        )
        _async[id(loop)] = entry
    for old in dropped:  # loops closed without shutdown_asyncgens(), or an id reused
        _abandon(old)
    _start(entry)
    return entry.client


def close() -> None:
    """Close the sync client (a new one is made on next use). Async clients: :func:`aclose`."""
    global _sync
    with _lock:
        client, _sync = _sync, None
    if client is not None:
        client.close()


async def aclose() -> None:
    """Close the running loop's async client now (it also closes when the loop shuts down)."""
    loop = asyncio.get_running_loop()
    entry = _async.get(id(loop))
    if entry is not None and entry.loop() is loop:
        await entry.closer.aclose()  # its finally forgets the entry and closes the client


def async_clients() -> int:
    """How many event loops have a pooled client now (for tests and health checks)."""
    return len(_async)


def _forget_after_fork() -> None:
    global _sync, _lock
    _lock = threading.Lock()
    _sync = None  # the parent's sockets are not ours: never use or close them here
    entries = list(_async.values())
    _async.clear()
    for entry in entries:
        _abandon(entry)


atexit.register(close)
os.register_at_fork(after_in_child=_forget_after_fork)
