"""The control plane's transport: a total deadline per exchange, a cap on the answer.

httpx's timeouts are per operation: a peer that trickles one byte a second
never trips a 5 s *read* timeout, and a whole answer can take for ever. Here
every socket operation of an exchange (connect, each send, each receive) is
given what is left of one deadline, set by :func:`deadline` around the
exchange, so the exchange as a whole ends by then, whatever the peer does.

The deadline is a :class:`~contextvars.ContextVar`: the exchange runs in one
thread (the synchronous client), and the network backend below reads it at
each operation. A receive waits in slices of at most :data:`SLICE` seconds,
so an exchange can also be *cancelled* (``cancel`` event: the registry
manager stops) without waiting for the deadline. A host name is resolved
under the same deadline (:mod:`soajs.registry.resolver`: one daemon thread at
a time, joined with what is left); an IP address is never resolved.

:func:`read_capped` reads a streamed answer up to a byte cap, decoding
``gzip``/``deflate`` (if a peer compresses although asked not to) with
bounded output, so nothing beyond the cap is ever held in memory.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from soajs.registry.resolver import BoundedResolver, is_ip
from soajs.settings import DEFAULT_REGISTRY_MAX_BYTES

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AnswerTooLarge",
    "DeadlineTransport",
    "UnsupportedEncoding",
    "deadline",
    "describe_size",
    "read_capped",
]

#: Default cap on a control-plane answer (a real registry is a few tens of KiB).
DEFAULT_MAX_BYTES = DEFAULT_REGISTRY_MAX_BYTES

#: Bytes of a ``deflate`` answer kept, before any output, to retry it as raw deflate.
MAX_REPLAY = 64 * 1024

#: Longest single wait of a receive, so a cancel is seen within this many seconds.
SLICE = 0.25

_DEADLINE: ContextVar[tuple[float, threading.Event | None] | None] = ContextVar(
    "soajs_registry_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float, cancel: threading.Event | None = None) -> Iterator[float]:
    """Every socket operation inside ends by ``now + seconds`` (monotonic), or soon
    after ``cancel`` is set; yields the deadline."""
    at = time.monotonic() + seconds
    token = _DEADLINE.set((at, cancel))
    try:
        yield at
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    state = _DEADLINE.get()
    if state is None:
        return timeout
    left = state[0] - time.monotonic()
    if left <= 0:
        raise error("the exchange's total deadline has passed")
    if state[1] is not None and state[1].is_set():
        raise httpcore.ReadError("the exchange was cancelled (the registry manager stops)")
    return left if timeout is None else min(timeout, left)


def _left(error: type[Exception]) -> float:
    """Seconds left of the deadline (raises ``error`` when none, or when cancelled)."""
    left = _bounded(None, error)
    return float("inf") if left is None else left


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if _DEADLINE.get() is None:
            return self._stream.read(max_bytes, timeout)
        # In slices: the deadline and a cancel are seen while a peer is silent.
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _bounded(timeout, httpcore.ReadTimeout)
            wait = SLICE if wait is None else min(wait, SLICE)
            try:
                return self._stream.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                if give_up is not None and time.monotonic() >= give_up:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()
        self._resolver = BoundedResolver()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        hosts = [host]
        if _DEADLINE.get() is not None and not is_ip(host):
            # resolved under the deadline (getaddrinfo itself cannot be interrupted)
            hosts = self._resolver.resolve(host, port, lambda: _left(httpcore.ConnectTimeout))
        for index, address in enumerate(hosts):
            try:
                stream = self._backend.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError:
                if index == len(hosts) - 1:
                    raise
                continue  # the next address of the name
            return _DeadlineStream(stream)
        raise httpcore.ConnectError(f"no address for {host}")  # pragma: no cover

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - the control plane is TCP
        stream = self._backend.connect_unix_socket(
            path, _bounded(timeout, httpcore.ConnectTimeout), socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - no retries configured
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose sockets honour :func:`deadline`.

    One small pool (the control plane is one host), no proxy, plain HTTP.
    """

    def __init__(self) -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=1)
        super().__init__(limits=limits, trust_env=False)
        # httpx builds its pool with the default backend and has no argument to
        # choose another: swap in the same pool over the deadline backend.
        self._pool = httpcore.ConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


class AnswerTooLarge(Exception):
    """The answer is larger than the cap (``size`` is what was known when refused)."""

    def __init__(self, cap: int, size: int | None) -> None:
        super().__init__(cap, size)
        self.cap = cap
        self.size = size


class UnsupportedEncoding(Exception):
    """The answer uses a ``Content-Encoding`` this client cannot decode with a bound,
    or its compressed body is corrupt."""


class _Decoder:
    """``gzip``/``deflate`` decoding with a bound on the output; corrupt input is an
    :class:`UnsupportedEncoding`. ``deflate`` is tried with a zlib header first,
    then as raw deflate (what some servers send), as httpx does."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # gzip: 32 + 15 detects a gzip or a zlib header; deflate: a zlib header
        self._zlib = zlib.decompressobj(32 + 15 if encoding != "deflate" else 15)
        # deflate input fed before any output, to replay as raw deflate (bounded)
        self._fed: bytearray | None = bytearray() if encoding == "deflate" else None

    def decompress(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error as exc:
            fed = self._fed
            if fed is None:
                raise self._corrupt(exc) from None
            self._fed = None  # no second fallback
            self._zlib = zlib.decompressobj(-15)  # raw deflate, no header
            return self.decompress(bytes(fed) + data, room)
        if self._fed is not None:
            if out or len(self._fed) > MAX_REPLAY:
                self._fed = None  # the header was right: no fallback from now on
            else:
                self._fed += data
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        return self._zlib.unconsumed_tail

    def flush(self, room: int) -> bytes:
        try:
            return self._zlib.flush(room)
        except zlib.error as exc:
            raise self._corrupt(exc) from None

    def _corrupt(self, exc: zlib.error) -> UnsupportedEncoding:
        return UnsupportedEncoding(f"a corrupt {self.encoding} body ({exc})")


def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The body of a streamed ``response``, refused past ``cap`` bytes (after decoding).

    Raises :class:`AnswerTooLarge` as soon as the announced ``Content-Length``
    or the bytes received pass the cap; at most ``cap + 1`` bytes are held.
    A body that cannot be decoded raises :class:`UnsupportedEncoding`.
    """
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise AnswerTooLarge(cap, int(length))
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder: _Decoder | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = _Decoder(encoding)
    elif encoding not in ("", "identity"):
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} (asked for identity)")
    body = bytearray()
    for chunk in response.iter_raw():
        if decoder is None:
            body += chunk
        else:
            data = chunk
            while data:
                room = cap + 1 - len(body)
                body += decoder.decompress(data, room)
                data = decoder.unconsumed_tail
                if len(body) > cap:
                    break
        if len(body) > cap:
            raise AnswerTooLarge(cap, None)
    if decoder is not None:
        body += decoder.flush(cap + 1 - len(body))
        if len(body) > cap:
            raise AnswerTooLarge(cap, None)
    return bytes(body)


def describe_size(cap: int) -> str:
    """``16 MiB`` / ``512 KiB`` / ``300 bytes``."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if cap >= size and cap % size == 0:
            return f"{cap // size} {unit}"
    return f"{cap} bytes"
