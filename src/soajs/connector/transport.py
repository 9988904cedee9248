"""The pooled httpx clients every connector shares: one per process, one per event loop.

A client per call pays a TCP (and TLS) handshake every time; these keep
connections alive and reuse them. The sync client is created on first use
and closed at interpreter exit (or by :func:`close`); after a ``fork`` the
child starts with a new one, never the parent's sockets. An async client
belongs to one event loop: each loop gets its own, which the application
closes on shutdown with ``await soajs.connector.aclose()`` (e.g. in its
lifespan handler).

Outbound calls are service-to-service, so the clients ignore proxy
environment variables (``trust_env=False``). Timeouts are set per call.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref

import httpx

__all__ = ["DEFAULT_LIMITS", "aclose", "async_client", "close", "set_limits", "sync_client"]

DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
)

_lock = threading.Lock()
_limits = DEFAULT_LIMITS
_sync: httpx.Client | None = None
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


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
            _sync = httpx.Client(limits=_limits, trust_env=False)
        return _sync


def async_client() -> httpx.AsyncClient:
    """The running event loop's pooled :class:`httpx.AsyncClient`."""
    loop = asyncio.get_running_loop()
    client = _async.get(loop)
    if client is None:
        with _lock:
            client = _async.get(loop)
            if client is None:
                client = httpx.AsyncClient(limits=_limits, trust_env=False)
                _async[loop] = client
    return client


def close() -> None:
    """Close the sync client (a new one is made on next use). Async clients: :func:`aclose`."""
    global _sync
    with _lock:
        client, _sync = _sync, None
    if client is not None:
        client.close()


async def aclose() -> None:
    """Close the running loop's async client (call in the app's shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        client = _async.pop(loop, None)
    if client is not None:
        await client.aclose()


def _forget_after_fork() -> None:
    global _sync, _lock
    _lock = threading.Lock()
    _sync = None  # the parent's sockets are not ours: never use or close them here
    _async.clear()


atexit.register(close)
os.register_at_fork(after_in_child=_forget_after_fork)
