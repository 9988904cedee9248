"""Name resolution of the control plane, bounded by the exchange's deadline.

``getaddrinfo`` cannot be interrupted: a resolver whose nameserver does not
answer holds the calling thread for as long as it likes (15 s and more). The
transport (:mod:`soajs.registry.transport`) therefore asks a
:class:`BoundedResolver`, which resolves in a short-lived daemon thread and
waits for it at most what is left of the exchange's deadline (in slices, so a
cancel is seen), then gives up with a :class:`ResolveTimeout` naming the host
and the time spent.

Bounds: at most **one** resolver thread per client at a time. A resolution
still running when its caller gave up is joined by the next caller (no new
thread); its answer, when it comes, serves that caller. An IP address (the
usual ``SOAJS_REGISTRY_API``) is never resolved.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpcore

__all__ = ["BoundedResolver", "ResolveTimeout", "is_ip"]

Address = tuple[Any, ...]


class ResolveTimeout(httpcore.ConnectTimeout):
    """Resolving the control plane's name took longer than the deadline left."""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Job:
    def __init__(self, host: str, port: int) -> None:
        self.key = (host, port)
        self.done = threading.Event()
        self.addresses: list[Address] = []
        self.error: OSError | None = None
        self.started = time.monotonic()

    def run(self) -> None:
        host, port = self.key
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            self.addresses = [info[4] for info in infos]
        except OSError as exc:
            self.error = exc
        finally:
            self.done.set()


class BoundedResolver:
    """Resolves one name at a time in a daemon thread, waited for within a bound."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: _Job | None = None

    def resolve(self, host: str, port: int, wait: Callable[[], float]) -> list[str]:
        """The IP addresses of ``host``; ``wait()`` says how long is left each time it
        is asked (it raises when the deadline has passed or the exchange is cancelled)."""
        with self._lock:
            job = self._job
            if job is None or job.key != (host, port):
                job = self._job = _Job(host, port)
                threading.Thread(target=job.run, name="soajs-resolve", daemon=True).start()
        begun = time.monotonic()
        while not job.done.is_set():
            try:
                left = wait()
            except httpcore.TimeoutException:
                raise ResolveTimeout(
                    f"resolving {host}: the system resolver did not answer within the "
                    f"{time.monotonic() - begun:.1f}s left"
                ) from None
            job.done.wait(min(left, 0.25))
        with self._lock:
            if self._job is job:
                self._job = None  # the next exchange resolves afresh
        if job.error is not None:
            raise httpcore.ConnectError(f"cannot resolve {host}: {job.error}")
        if not job.addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        return [str(address[0]) for address in job.addresses]
