"""The errors a service call can end in; all are :class:`~soajs.errors.SoajsError`.

Each message names the service (and version) that was called and says why
the call could not be made, so a handler can log it as is.
"""

from __future__ import annotations

from typing import Any

from soajs.errors import SoajsError

__all__ = [
    "CircuitOpenError",
    "ConnectorError",
    "DeadlineExceededError",
    "InvalidCallError",
    "InvalidEnvelopeError",
    "NoRouteError",
    "ResponseTooLargeError",
    "ServiceError",
    "ServiceUnavailableError",
]


def describe(name: str, version: str | None) -> str:
    """``service 'auth' v1`` / ``service 'auth' (latest)``."""
    return f"service {name!r} " + (f"v{version}" if version else "(latest)")


def _rebuild(cls: type[ConnectorError], args: tuple[object, ...], state: dict[str, object]) -> Any:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConnectorError(SoajsError):
    """Base class of the connector's errors; ``service`` and ``version`` say what was called."""

    def __init__(self, message: str, *, service: str, version: str | None) -> None:
        self.service = service
        self.version = version
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy (a ProcessPoolExecutor worker's error) rebuild it as it was:
        # Exception's default calls __init__ with the message alone, a TypeError here
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class NoRouteError(ConnectorError, LookupError):
    """No way to reach the service: not in the mesh and no gateway to go through."""


class InvalidCallError(ConnectorError, ValueError):
    """The call could not be made: the target's address (from the request context
    or the registry) is one the transport cannot use (a host IDNA cannot encode, a
    control character), or the request could not be built.

    What httpx and the socket layer raise then (``OverflowError``,
    ``ValueError``, ``UnicodeError``, :class:`httpx.InvalidURL`) is its
    ``__cause__``; ``target`` is the ``host:port`` (cut to 200 characters). A
    ``ValueError`` too, so code catching that keeps working. Not retried and not
    counted by the breaker (nothing was sent); a mesh call fails over to the
    gateway first.
    """

    def __init__(self, message: str, *, service: str, version: str | None, target: str) -> None:
        self.target = target
        super().__init__(message, service=service, version=version)


class CircuitOpenError(ConnectorError):
    """Every target the call could use has an open circuit; nothing was sent.

    ``target`` is the ``host:port`` whose circuit refused the call and
    ``retry_in`` the seconds until it lets a probe through.
    """

    def __init__(
        self, message: str, *, service: str, version: str | None, target: str, retry_in: float
    ) -> None:
        self.target = target
        self.retry_in = retry_in
        super().__init__(message, service=service, version=version)


class ServiceUnavailableError(ConnectorError):
    """The call failed at the transport level (refused, timed out, dropped) after retries.

    ``attempts`` is how many requests were sent, ``target`` the ``host:port``
    tried last; the httpx exception is the ``__cause__``.
    """

    def __init__(
        self, message: str, *, service: str, version: str | None, target: str, attempts: int
    ) -> None:
        self.target = target
        self.attempts = attempts
        super().__init__(message, service=service, version=version)


class DeadlineExceededError(ServiceUnavailableError):
    """The call, or its last attempt, ran past its wall-clock deadline.

    ``deadline`` is ``"call"`` (the total for the call, retries and waits
    included) or ``"attempt"`` (one request, from sending it to the last byte
    of the answer); ``seconds`` is its value. A :class:`ServiceUnavailableError`,
    so code that handles timeouts that way keeps working.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        version: str | None,
        target: str,
        attempts: int,
        deadline: str,
        seconds: float,
    ) -> None:
        self.deadline = deadline
        self.seconds = seconds
        super().__init__(
            message, service=service, version=version, target=target, attempts=attempts
        )


class ResponseTooLargeError(ConnectorError):
    """The answer's body is larger than the cap (``max_response_bytes``); it was not kept.

    ``limit`` is the cap in bytes, ``received`` how many bytes had arrived
    (or the announced ``Content-Length``) when the call was cut, ``target``
    the ``host:port`` that answered. Not retried. Use ``connector.stream()``
    to take large answers piece by piece.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        version: str | None,
        target: str,
        limit: int,
        received: int,
    ) -> None:
        self.target = target
        self.limit = limit
        self.received = received
        super().__init__(message, service=service, version=version)


class ServiceError(ConnectorError):
    """The service answered, with an error: a SOAJS envelope with ``result: false``
    (whatever the HTTP status, 200 included: Node services answer most errors
    with 200) or an HTTP status outside 2xx.

    ``status`` is the HTTP status, ``codes`` the envelope's error codes (ints,
    at most 100 kept), ``details`` its ``{"code", "message"}`` entries (at
    most 100, each message one line of at most 1024 characters), ``message``
    the first detail's message (what the user should see) or ``"HTTP <status>"``.
    Raised by :func:`soajs.connector.unwrap` and ``connector.request_data()``.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        version: str | None,
        status: int,
        codes: tuple[int, ...] = (),
        details: tuple[dict[str, object], ...] = (),
    ) -> None:
        self.status = status
        self.codes = codes
        self.details = details
        self.message = message
        super().__init__(
            f"{describe(service, version)} answered HTTP {status}"
            + (f", codes {list(codes)}" if codes else "")
            + f": {message}",
            service=service,
            version=version,
        )


class InvalidEnvelopeError(ServiceError):
    """The answer (2xx) is not a SOAJS envelope: not JSON, too deep, or without a
    boolean ``result``. ``codes`` and ``details`` are empty."""
