"""Wall-clock deadlines for outbound calls: one per call, one per attempt.

httpx's timeouts are per operation: a read timeout of 10 s is restarted by
every byte, so a peer trickling one byte a second keeps a call alive for
as long as it likes. A :class:`Deadline` is measured on the wall clock
(``time.monotonic``) instead:

* the **call** deadline covers everything: every attempt, the waits
  between them, failover, redirects and the whole body;
* the **attempt** deadline covers one request, from sending it to the last
  byte of its answer (redirect hops included).

How it is enforced:

* **sync**: every socket operation (connect, each read, each write) is
  given at most the time left, so the call ends at the deadline even in the
  middle of a header or a body trickling in (:class:`DeadlineBackend`, in
  the pooled client, and fitted into your own ``client=`` by
  :func:`fit_client`); the clock is also checked after every chunk, and
  each phase's timeouts are cut to the time left, which is all that bounds
  a client whose transport is not httpx's ``HTTPTransport``;
* **async**: each attempt and each chunk read run under ``asyncio.timeout``.

An attempt cut by its deadline raises :class:`AttemptDeadline` (an
``httpx.ReadTimeout``: retried like one, counted by the breaker); a call cut
by its deadline raises :class:`CallDeadline` (not retried). The connector
turns both into :class:`~soajs.connector.errors.DeadlineExceededError`.
"""

from __future__ import annotations

import logging
import math
import time
import typing
from contextvars import ContextVar

import httpcore
import httpx

__all__ = [
    "AttemptDeadline",
    "CallDeadline",
    "Deadline",
    "DeadlineBackend",
    "check_seconds",
    "deadline_transport",
    "fit_client",
]

logger = logging.getLogger("soajs.connector")

#: When the current thread's socket operations must end (monotonic), if anything bounds them.
ACTIVE: ContextVar[float | None] = ContextVar("soajs_connector_deadline", default=None)


def check_seconds(name: str, value: float | None) -> float | None:
    """``value`` if it is a positive number of seconds or ``None``; else a clear ``ValueError``."""
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0 seconds or None, got {value!r}")
    return value


class AttemptDeadline(httpx.ReadTimeout):
    """One attempt ran past its wall-clock deadline (retried like a read timeout)."""


class CallDeadline(httpx.TimeoutException):
    """The whole call ran past its wall-clock deadline (never retried)."""


class Deadline:
    """The deadlines of one call; :meth:`start_attempt` before each attempt.

    ``call`` and ``attempt`` are seconds (``None``: no such deadline).
    ``end`` is the monotonic time the current attempt must end by and
    ``which`` says which deadline that is.
    """

    __slots__ = ("attempt", "call", "call_end", "end", "which")

    def __init__(self, call: float | None, attempt: float | None) -> None:
        self.call = call
        self.attempt = attempt
        self.call_end = time.monotonic() + call if call is not None else math.inf
        self.end = self.call_end
        self.which = "call"

    def call_only(self) -> Deadline:
        """The call's deadline alone (a streamed body, read after its attempt ended)."""
        view = Deadline(None, None)
        view.call = self.call
        view.call_end = view.end = self.call_end
        return view

    def start_attempt(self) -> None:
        end, which = self.call_end, "call"
        if self.attempt is not None:
            attempt_end = time.monotonic() + self.attempt
            if attempt_end < end:
                end, which = attempt_end, "attempt"
        self.end = end
        self.which = which

    @property
    def bounded(self) -> bool:
        return self.end != math.inf

    @property
    def seconds(self) -> float:
        """The value of the deadline that bounds the current attempt."""
        value = self.attempt if self.which == "attempt" else self.call
        return value if value is not None else math.inf

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def check(self) -> None:
        if time.monotonic() >= self.end:
            raise self.exceeded()

    def exceeded(self, request: httpx.Request | None = None) -> httpx.TimeoutException:
        message = f"the {self.which} deadline of {self.seconds:g} s passed"
        if self.which == "attempt":
            return AttemptDeadline(message, request=request)
        return CallDeadline(message, request=request)

    def timeouts(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """``timeout`` with every value cut to the time left (never below 1 ms)."""
        if not self.bounded:
            return timeout
        left = max(self.remaining(), 0.001)
        values = timeout.as_dict()
        return httpx.Timeout(**{k: left if v is None or v > left else v for k, v in values.items()})


# -- the sync backend: every socket operation bounded by ACTIVE ------------------------


def _bound(timeout: float | None, error: type[Exception]) -> float | None:
    end = ACTIVE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("deadline passed")
    return left if timeout is None or left < timeout else timeout


class _DeadlineStream(httpcore.NetworkStream):
    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bound = _bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bound))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """An httpcore network backend whose socket operations end by the current deadline."""

    def __init__(self, backend: httpcore.NetworkBackend | None = None) -> None:
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bound = _bound(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, bound, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bound = _bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bound, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _fit(transport: object) -> bool:
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, DeadlineBackend):
        return True
    if not isinstance(backend, httpcore.NetworkBackend):
        return False
    pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return True


def fit_client(client: httpx.Client) -> bool:
    """Make the sockets of ``client``'s HTTP transports obey connector deadlines.

    Harmless for the client's other uses: the backend only bounds socket
    operations while a connector call is running in that thread. Connections
    the client already holds keep their plain sockets (a connection opened
    from now on is fitted). Returns ``False`` if a transport could not be
    fitted (not an httpx ``HTTPTransport``): the deadline is then checked
    between reads only.
    """
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    fitted = True
    for transport in transports:
        if transport is not None and not _fit(transport):
            fitted = False
    return fitted


def deadline_transport(**kwargs: typing.Any) -> httpx.HTTPTransport:
    """An :class:`httpx.HTTPTransport` (same arguments) whose sockets obey connector deadlines."""
    transport = httpx.HTTPTransport(**kwargs)
    if not _fit(transport):  # pragma: no cover - httpx changed
        logger.warning(
            "this httpx version hides its connection pool's network backend: connector "
            "deadlines are checked between reads only"
        )
    return transport
