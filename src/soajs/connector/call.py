"""One logical call, shared by the sync and async connectors: every decision, no I/O.

Target choice and failover, breaker bookkeeping, retry rules, deadlines,
the size cap, redirect steps and error messages live here; the connectors
in :mod:`~soajs.connector.client` only send, sleep and read.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import httpx
import tenacity

from soajs.connector import body, redirects
from soajs.connector.breaker import CircuitBreaker, breakers
from soajs.connector.deadline import AttemptDeadline, CallDeadline, Deadline, check_seconds
from soajs.connector.errors import (
    CircuitOpenError,
    DeadlineExceededError,
    InvalidCallError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    describe,
)
from soajs.connector.policy import NOT_SENT_ERRORS, RETRYABLE_ERRORS
from soajs.connector.routing import INJECT_HEADER, Connection
from soajs.observability import tracing

if TYPE_CHECKING:
    from soajs.connector.base import BaseConnector

__all__ = ["INVALID_ERRORS", "UNSET", "Call", "timeout_seconds"]

logger = logging.getLogger("soajs.connector")

_INJECT_NAME = INJECT_HEADER.decode()
#: "Not given": ``None`` means "no limit" for deadlines and the size cap.
UNSET: Any = object()
#: ``client.build_request`` arguments a caller may pass (auth and follow_redirects: send's).
_FAILURES = (*RETRYABLE_ERRORS, CallDeadline)  # the target's fault (a full local pool is not)
_BUILD = frozenset({"content", "data", "files", "json", "cookies", "extensions"})
#: What building a request or connecting raises for an address the transport cannot
#: use (a port getaddrinfo overflows on, a host IDNA cannot encode, a control character).
INVALID_ERRORS: tuple[type[Exception], ...] = (
    OverflowError,
    ValueError,
    UnicodeError,
    httpx.InvalidURL,
)


def timeout_seconds(timeout: httpx.Timeout) -> float | None:
    """The default call deadline: the largest finite value of ``timeout`` (10 s by default)."""
    values = [v for v in timeout.as_dict().values() if v is not None and math.isfinite(v)]
    return max(values) if values else None


class Call:
    """One logical call: target choice, breaker bookkeeping, failover, retry rules, deadlines."""

    __slots__ = (
        "auth",
        "build_kwargs",
        "connector",
        "deadline",
        "failed_over",
        "follow",
        "idempotent",
        "last",
        "limit",
        "method",
        "path",
        "primary",
        "sent",
        "status",
        "streaming",
        "timeout",
        "user_headers",
        "user_params",
    )

    def __init__(
        self,
        connector: BaseConnector,
        connection: Connection,
        method: str,
        path: str,
        idempotent: bool | None,
        kwargs: dict[str, Any],
        *,
        streaming: bool = False,
    ) -> None:
        self.connector = connector
        self.primary = connection
        self.method = method.upper()
        self.path = path if path.startswith("/") else "/" + path
        self.idempotent = (
            self.method in connector.retry.methods if idempotent is None else idempotent
        )
        self.user_headers = kwargs.pop("headers", None)
        self.user_params = kwargs.pop("params", None)
        timeout = kwargs.pop("timeout", UNSET)
        if timeout is UNSET:
            self.timeout = connector.timeout
        else:
            self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.follow: bool | None = kwargs.pop("follow_redirects", None)
        self.auth = kwargs.pop("auth", UNSET)
        attempt = kwargs.pop("attempt_deadline", UNSET)
        if attempt is UNSET:
            attempt = connector.attempt_deadline
        total = kwargs.pop("deadline", UNSET)
        if total is UNSET:
            # "timeout=2" bounds the whole call to 2 s, unless a deadline was set
            given = connector.deadline_given or timeout is UNSET
            total = connector.deadline if given else timeout_seconds(self.timeout)
        self.deadline = Deadline(
            check_seconds("deadline", total), check_seconds("attempt_deadline", attempt)
        )
        limit = kwargs.pop("max_response_bytes", UNSET)
        if limit is UNSET:
            limit = None if streaming else connector.max_response_bytes
        elif limit is not None and limit < 0:
            raise ValueError(f"max_response_bytes must be >= 0 or None, got {limit}")
        self.limit: int | None = limit
        self.streaming = streaming
        unknown = set(kwargs) - _BUILD
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        self.build_kwargs = kwargs
        self.sent = 0
        self.status: int | None = None  # of the last answer (metrics, spans)
        self.last = connection
        #: Once a call fails over to the gateway, its later attempts stay there.
        self.failed_over: Connection | None = None

    # -- targets and breakers ---------------------------------------------
    def _breaker(self, connection: Connection) -> CircuitBreaker:
        return breakers.get(connection.target, self.connector.breaker, connection.breaker_label)

    def pick(self) -> Connection:
        """The target for the next attempt: the primary route unless its circuit is open."""
        if self.failed_over is not None:
            return self.failed_over
        primary = self.primary
        breaker = self._breaker(primary)
        if breaker.allow():
            return primary
        fallback = primary.fallback
        if fallback is None:
            raise self._open(breaker, "and there is no gateway to fail over to")
        gateway = self._breaker(fallback)
        if gateway.allow():
            logger.debug("%s: circuit open, going through the gateway", self._what())
            return fallback
        raise self._open(gateway, f"(the mesh target {primary.target} is open too)")

    def _open(self, breaker: CircuitBreaker, tail: str) -> CircuitOpenError:
        retry_in = breaker.retry_in()
        return CircuitOpenError(
            f"cannot call {self._what()}: the circuit for {breaker.label} is open after "
            f"{breaker.failures} consecutive failure(s), next probe in {retry_in:.1f} s {tail}",
            service=self.primary.service,
            version=self.primary.version,
            target=breaker.target,
            retry_in=retry_in,
        )

    def _what(self) -> str:
        return describe(self.primary.service, self.primary.version)

    def failed(self, connection: Connection, exc: Exception) -> Connection | None:
        """Book a transport failure; returns the gateway route to fail over to, if any."""
        breaker = self._breaker(connection)
        if isinstance(exc, _FAILURES):
            breaker.record_failure(type(exc).__name__)
        fallback = connection.fallback
        if fallback is None or connection.mode != "mesh" or not isinstance(exc, NOT_SENT_ERRORS):
            return None
        if not self._breaker(fallback).allow():
            return None
        self.failed_over = fallback
        # WARNING for the first failure of a streak; the breaker counts the rest
        first = breaker.failures <= 1
        if not first:
            breaker.demoted()
        message = "%s: mesh target %s unreachable (%s); this call fails over to the gateway %s"
        args = (self._what(), connection.target, type(exc).__name__, fallback.target)
        if first:  # bounded across targets too: breakers.logs
            fields = {"soajs_event": "failover", "soajs_target": connection.target,
                      "soajs_service": str(self.primary.service)}  # fmt: skip
            breakers.logs.warning(connection.target, message, *args, extra=fields)
        else:
            logger.debug(message, *args)
        return fallback

    def invalid(self, connection: Connection, exc: Exception) -> Connection:
        """``connection`` cannot be used (:data:`INVALID_ERRORS`): the gateway to fail
        over to, or an :class:`InvalidCallError` (raised). Nothing was sent, so the
        breaker counts nothing and the call is not retried."""
        fallback = connection.fallback
        if (
            connection.mode == "mesh"
            and fallback is not None
            and self.failed_over is None
            and self._breaker(fallback).allow()
        ):
            self.failed_over = fallback
            logger.debug(
                "%s: mesh target unusable (%s); this call goes through the gateway",
                self._what(),
                type(exc).__name__,
            )
            return fallback
        target = connection.target if len(connection.target) <= 200 else connection.target[:200]
        detail = str(exc)
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        raise InvalidCallError(
            f"{self.method} {self.path} to {self._what()}: cannot call {connection.mode} "
            f"{target}: {type(exc).__name__}: {detail}",
            service=self.primary.service,
            version=self.primary.version,
            target=target,
        ) from exc

    def succeeded(self, connection: Connection, response: httpx.Response) -> None:
        self.status = response.status_code
        # A gateway's 5xx speaks for the service behind it, not for the gateway.
        if connection.mode == "mesh" and response.status_code in self.connector.retry.statuses:
            self._breaker(connection).record_failure(f"HTTP {response.status_code}")
        else:
            self._breaker(connection).record_success()

    # -- the request ----------------------------------------------------------
    def build(self, client: httpx.Client | httpx.AsyncClient, connection: Connection) -> Any:
        """The first request of an attempt on ``connection`` (an :class:`httpx.Request`)."""
        self.sent += 1
        self.last = connection
        headers = httpx.Headers(list(connection.raw_headers))
        if self.user_headers:
            headers.update(self.user_headers)
            if connection.mode == "gateway" and _INJECT_NAME in headers:
                del headers[_INJECT_NAME]  # never to the gateway
        tracing.inject(headers)  # the call's span context, as traceparent (when otel is on)
        return client.build_request(
            self.method,
            connection.url(self.path),
            headers=headers,
            params=self.user_params,
            timeout=self.deadline.timeouts(self.timeout),
            **self.build_kwargs,
        )

    def follows(self, client: httpx.Client | httpx.AsyncClient) -> bool:
        return client.follow_redirects if self.follow is None else self.follow

    def send_kwargs(self, stripped: bool) -> dict[str, Any]:
        """``client.send`` arguments for one hop (no ``auth=`` once the call left its origin)."""
        kwargs: dict[str, Any] = {"stream": True, "follow_redirects": False}
        if stripped:
            kwargs["auth"] = None
        elif self.auth is not UNSET:
            kwargs["auth"] = self.auth
        return kwargs

    def redirect(
        self,
        client: httpx.Client | httpx.AsyncClient,
        request: httpx.Request,
        response: httpx.Response,
        hops: int,
        stripped: bool,
    ) -> tuple[httpx.Request, bool]:
        if hops > client.max_redirects:
            raise httpx.TooManyRedirects(
                f"more than {client.max_redirects} redirects", request=request
            )
        return redirects.next_request(
            request,
            response,
            cookies=client.cookies,
            timeout=self.deadline.timeouts(self.timeout),
            stripped=stripped,
        )

    def reads_body(self, response: httpx.Response) -> bool:
        """Is the body read now? Always for a buffered call; for a stream, only retried errors."""
        return not self.streaming or response.status_code in self.connector.retry.statuses

    def body_deadline(self, response: httpx.Response) -> Deadline:
        """A buffered body is part of its attempt; a streamed one only answers to the call's."""
        return self.deadline if self.reads_body(response) else self.deadline.call_only()

    def limit_for(self, response: httpx.Response) -> int | None:
        if self.streaming and self.limit is None and self.reads_body(response):
            return self.connector.max_response_bytes  # a retried error answer, read whole
        return self.limit

    # -- retries and errors -----------------------------------------------------
    def retrying_kwargs(self) -> dict[str, Any]:
        policy = self.connector.retry
        retry = policy.retry() if self.idempotent else tenacity.retry_never
        stop = policy.stop()
        total = self.deadline.call
        if total is not None and total < policy.total:
            stop = stop | tenacity.stop_before_delay(total)
        return {
            "stop": stop,
            "wait": policy.wait(),
            "retry": retry,
            "retry_error_callback": _last_outcome,
        }

    def timed_out(self, exc: httpx.RequestError) -> httpx.RequestError:
        """``exc``, or the deadline error it really is when the deadline has passed."""
        if isinstance(exc, AttemptDeadline | CallDeadline):
            return exc
        if isinstance(exc, httpx.TimeoutException) and self.deadline.expired():
            error = self.deadline.exceeded()
            error.__cause__ = exc
            return error
        return exc

    def unavailable(self, exc: Exception) -> ServiceUnavailableError:
        last = self.last
        where = (
            f"{self.method} {self.path} to {self._what()} failed after {self.sent} attempt(s); "
            f"last tried {last.mode} {last.target}"
        )
        common: dict[str, Any] = {
            "service": self.primary.service,
            "version": self.primary.version,
            "target": last.target,
            "attempts": self.sent,
        }
        deadline = self.deadline
        if isinstance(exc, AttemptDeadline | CallDeadline):
            which = "attempt" if isinstance(exc, AttemptDeadline) else "call"
            seconds = deadline.attempt if which == "attempt" else deadline.call
            assert seconds is not None
            return DeadlineExceededError(
                f"{where}: the {which} deadline of {seconds:g} s passed",
                deadline=which,
                seconds=seconds,
                **common,
            )
        return ServiceUnavailableError(f"{where}: {type(exc).__name__}: {exc}", **common)

    def too_large(self, exc: body.TooLarge) -> ResponseTooLargeError:
        how = "announces" if exc.announced else "sent more than"
        return ResponseTooLargeError(
            f"{self.method} {self.path} to {self._what()}: the answer from {self.last.mode} "
            f"{self.last.target} {how} {exc.received if exc.announced else exc.limit} bytes, "
            f"over the cap of {exc.limit} (max_response_bytes; use stream() for large answers)",
            service=self.primary.service,
            version=self.primary.version,
            target=self.last.target,
            limit=exc.limit,
            received=exc.received,
        )


def _last_outcome(state: tenacity.RetryCallState) -> Any:
    """When retries run out: return the last answer, or raise the last error."""
    assert state.outcome is not None
    return state.outcome.result()
