"""``ServiceConnector`` and ``AsyncServiceConnector``: one core, two I/O shells.

Everything that decides something (route, target, breaker bookkeeping,
retry rules, failover, error messages) lives in :class:`_Call` and
:class:`_BaseConnector`; the sync and async classes differ only in how they
send a request and sleep (``httpx.Client`` + ``tenacity.Retrying`` versus
``httpx.AsyncClient`` + ``tenacity.AsyncRetrying``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
import tenacity

from soajs.connector import transport
from soajs.connector.breaker import BreakerPolicy, CircuitBreaker, breakers
from soajs.connector.errors import (
    CircuitOpenError,
    NoRouteError,
    ServiceUnavailableError,
    describe,
)
from soajs.connector.policy import (
    DEFAULT_TIMEOUT,
    NOT_SENT_ERRORS,
    RETRYABLE_ERRORS,
    RetryPolicy,
)
from soajs.connector.propagation import current_inbound
from soajs.connector.routing import (
    INJECT_HEADER,
    Connection,
    RouteTable,
    gateway_table,
    normalize_version,
    route_for_context,
)
from soajs.context.current import current_context

if TYPE_CHECKING:
    from soajs.models.context import ContextData
    from soajs.models.registry import Awareness

__all__ = ["AsyncServiceConnector", "ServiceConnector"]

logger = logging.getLogger("soajs.connector")

_INJECT_NAME = INJECT_HEADER.decode()

_R = TypeVar("_R")


class AwarenessSource(Protocol):
    """Anything with the registry's ``awareness`` (a RegistryManager, a Registry)."""

    @property
    def awareness(self) -> Awareness | None: ...


def _outside_request(name: str, version: str | int | None, why: str) -> NoRouteError:
    normalized = normalize_version(version)
    return NoRouteError(
        f"cannot call {describe(name, normalized)} outside a request: {why}",
        service=name,
        version=normalized,
    )


class _BaseConnector:
    """Routing and settings shared by both connectors (see :class:`ServiceConnector`)."""

    def __init__(
        self,
        context: ContextData | None = None,
        *,
        registry: AwarenessSource | None = None,
        tenant_key: str | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
    ) -> None:
        self.context = context
        self.registry = registry
        self.tenant_key = tenant_key
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or BreakerPolicy()
        self._background: tuple[Awareness, RouteTable] | None = None

    def connect(self, name: str, version: str | int | None = None) -> Connection:
        """Where a call to ``name`` (``version``, or the latest) goes, and with which headers.

        Mesh-direct when the request's ``awareness.interConnect`` lists it,
        else through the gateway. Raises :class:`NoRouteError` when neither is possible.
        """
        context = self.context
        if context is None:
            context = current_context()
        if context is not None:
            connection = route_for_context(context, name, version)
        else:
            connection = self._background_route(name, version)
        inbound = current_inbound(context)
        if inbound is not None:
            return connection.with_inbound(inbound)
        return connection

    def _background_route(self, name: str, version: str | int | None) -> Connection:
        if self.registry is None:
            raise _outside_request(
                name, version, "there is no request context; pass registry= (the "
                "RegistryManager) and tenant_key= so the call can go through the gateway"
            )  # fmt: skip
        if not self.tenant_key:
            raise _outside_request(
                name, version, "pass tenant_key= (the tenant's external key) to call through "
                "the gateway"
            )  # fmt: skip
        try:
            awareness = self.registry.awareness
        except Exception as exc:  # RegistryNotLoadedError and friends
            raise _outside_request(
                name, version, f"the registry has no gateway address yet ({exc})"
            ) from exc
        cached = self._background
        if cached is not None and cached[0] is awareness:
            return cached[1].route(name, version)
        table = gateway_table(awareness, self.tenant_key)
        if table is None or awareness is None:
            raise _outside_request(
                name, version, "the registry's awareness has no gateway host and port"
            )
        self._background = (awareness, table)
        return table.route(name, version)

    def _start(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None,
        idempotent: bool | None,
        kwargs: dict[str, Any],
    ) -> _Call:
        return _Call(self, self.connect(name, version), method, path, idempotent, kwargs)


class _Call:
    """One logical call: target choice, breaker bookkeeping, failover, retry rules."""

    __slots__ = (
        "connector",
        "failed_over",
        "idempotent",
        "kwargs",
        "last",
        "method",
        "path",
        "primary",
        "sent",
        "user_headers",
        "user_params",
    )

    def __init__(
        self,
        connector: _BaseConnector,
        connection: Connection,
        method: str,
        path: str,
        idempotent: bool | None,
        kwargs: dict[str, Any],
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
        kwargs.setdefault("timeout", connector.timeout)
        self.kwargs = kwargs
        self.sent = 0
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
        if isinstance(exc, RETRYABLE_ERRORS):
            breaker.record_failure()
        fallback = connection.fallback
        if fallback is None or connection.mode != "mesh" or not isinstance(exc, NOT_SENT_ERRORS):
            return None
        if not self._breaker(fallback).allow():
            return None
        self.failed_over = fallback
        # WARNING for the first failure of a streak; the breaker logs when it opens
        log = logger.warning if breaker.failures <= 1 else logger.debug
        log(
            "%s: mesh target %s unreachable (%s); this call fails over to the gateway %s",
            self._what(),
            connection.target,
            type(exc).__name__,
            fallback.target,
        )
        return fallback

    def succeeded(self, connection: Connection, response: httpx.Response) -> None:
        # A gateway's 5xx speaks for the service behind it, not for the gateway.
        if connection.mode == "mesh" and response.status_code in self.connector.retry.statuses:
            self._breaker(connection).record_failure()
        else:
            self._breaker(connection).record_success()

    # -- the request ----------------------------------------------------------
    def args(self, connection: Connection) -> dict[str, Any]:
        """Keyword arguments of ``client.request`` for one attempt on ``connection``."""
        self.sent += 1
        self.last = connection
        headers = httpx.Headers(list(connection.raw_headers))
        if self.user_headers:
            headers.update(self.user_headers)
            if connection.mode == "gateway" and _INJECT_NAME in headers:
                del headers[_INJECT_NAME]  # never to the gateway
        return {
            "method": self.method,
            "url": connection.url(self.path),
            "headers": headers,
            "params": self.user_params,
            **self.kwargs,
        }

    def retrying_kwargs(self) -> dict[str, Any]:
        policy = self.connector.retry
        retry = policy.retry() if self.idempotent else tenacity.retry_never
        return {
            "stop": policy.stop(),
            "wait": policy.wait(),
            "retry": retry,
            "retry_error_callback": _last_outcome,
        }

    def unavailable(self, exc: Exception) -> ServiceUnavailableError:
        last = self.last
        return ServiceUnavailableError(
            f"{self.method} {self.path} to {self._what()} failed after {self.sent} attempt(s); "
            f"last tried {last.mode} {last.target}: {type(exc).__name__}: {exc}",
            service=self.primary.service,
            version=self.primary.version,
            target=last.target,
            attempts=self.sent,
        )


def _last_outcome(state: tenacity.RetryCallState) -> Any:
    """When retries run out: return the last answer, or raise the last error."""
    assert state.outcome is not None
    return state.outcome.result()


_DOC = """{kind} calls to other services: routing, pooled connections, retries, breaker.

``{cls}(context=None, *, registry=None, tenant_key=None, timeout=..., retry=None,
breaker=None, client=None)``

* ``context``: the request's :class:`~soajs.models.ContextData`; by default
  :func:`soajs.current_context` at call time.
* ``registry`` and ``tenant_key``: for calls outside any request (background
  jobs), which go through the gateway named by the registry's ``awareness``.
* ``timeout`` (an :class:`httpx.Timeout` or seconds), ``retry``
  (:class:`~soajs.connector.RetryPolicy`) and ``breaker``
  (:class:`~soajs.connector.BreakerPolicy`) tune the calls; ``client`` replaces
  the shared pooled client.

Cheap to create (one per request is fine); the pool and the breakers are
process-wide.
"""


class ServiceConnector(_BaseConnector):
    __doc__ = _DOC.format(kind="Synchronous", cls="ServiceConnector")

    def __init__(
        self,
        context: ContextData | None = None,
        *,
        client: httpx.Client | None = None,
        **options: Any,
    ) -> None:
        super().__init__(context, **options)
        self.client = client

    def request(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Call ``method path`` on service ``name``; ``kwargs`` go to :meth:`httpx.Client.request`.

        Returns the answer (whatever its status, after retries); raises
        :class:`NoRouteError`, :class:`CircuitOpenError` or
        :class:`ServiceUnavailableError` (transport failure after retries).
        """
        call = self._start(name, method, path, version, idempotent, kwargs)
        client = self.client or transport.sync_client()

        def attempt() -> httpx.Response:
            connection = call.pick()
            while True:
                try:
                    response = client.request(**call.args(connection))
                except httpx.TransportError as exc:
                    failover = call.failed(connection, exc)
                    if failover is None:
                        raise
                    connection = failover
                    continue
                call.succeeded(connection, response)
                return response

        try:
            result: httpx.Response = tenacity.Retrying(**call.retrying_kwargs())(attempt)
        except httpx.TransportError as exc:
            raise call.unavailable(exc) from exc
        return result

    def get(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "GET", path, **kwargs)

    def head(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "HEAD", path, **kwargs)

    def options(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "OPTIONS", path, **kwargs)

    def post(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "POST", path, **kwargs)

    def put(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "PUT", path, **kwargs)

    def patch(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "PATCH", path, **kwargs)

    def delete(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(name, "DELETE", path, **kwargs)


class AsyncServiceConnector(_BaseConnector):
    __doc__ = _DOC.format(kind="Asynchronous", cls="AsyncServiceConnector")

    def __init__(
        self,
        context: ContextData | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        super().__init__(context, **options)
        self.client = client

    async def request(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The async twin of :meth:`ServiceConnector.request`."""
        call = self._start(name, method, path, version, idempotent, kwargs)
        client = self.client or transport.async_client()

        async def attempt() -> httpx.Response:
            connection = call.pick()
            while True:
                try:
                    response = await client.request(**call.args(connection))
                except httpx.TransportError as exc:
                    failover = call.failed(connection, exc)
                    if failover is None:
                        raise
                    connection = failover
                    continue
                call.succeeded(connection, response)
                return response

        try:
            result: httpx.Response = await tenacity.AsyncRetrying(**call.retrying_kwargs())(attempt)
        except httpx.TransportError as exc:
            raise call.unavailable(exc) from exc
        return result

    async def get(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "GET", path, **kwargs)

    async def head(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "HEAD", path, **kwargs)

    async def options(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "OPTIONS", path, **kwargs)

    async def post(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "POST", path, **kwargs)

    async def put(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "PUT", path, **kwargs)

    async def patch(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "PATCH", path, **kwargs)

    async def delete(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(name, "DELETE", path, **kwargs)
