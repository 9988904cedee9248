"""``ServiceConnector`` and ``AsyncServiceConnector``: one core, two I/O shells.

Everything that decides something (route, target, breaker bookkeeping,
retry rules, failover, deadlines, the size cap, redirects, error messages)
lives in :class:`~soajs.connector.call.Call` and
:class:`~soajs.connector.base.BaseConnector`; the sync and async classes
differ only in how they send, read and sleep (``httpx.Client`` +
``tenacity.Retrying`` versus ``httpx.AsyncClient`` + ``tenacity.AsyncRetrying``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, cast

import httpx
import tenacity

from soajs.connector import body, transport
from soajs.connector.base import BaseConnector
from soajs.connector.call import INVALID_ERRORS, Call
from soajs.connector.deadline import ACTIVE, fit_client
from soajs.connector.envelope import unwrap
from soajs.observability.instrument import connector_call

if TYPE_CHECKING:
    from soajs.connector.routing import Connection
    from soajs.models.context import ContextData

__all__ = ["AsyncServiceConnector", "ServiceConnector"]

_DOC = """{kind} calls to other services: routing, pooled connections, retries, breaker.

``{cls}(context=None, *, registry=None, tenant_key=None, timeout=..., retry=None,
breaker=None, deadline=..., attempt_deadline=..., max_response_bytes=10 MiB, client=None)``

* ``context``: the request's :class:`~soajs.models.ContextData`; by default
  :func:`soajs.current_context` at call time.
* ``registry`` and ``tenant_key``: for calls outside any request (background
  jobs), which go through the gateway named by the registry's ``awareness``.
* ``timeout`` (an :class:`httpx.Timeout` or seconds, per socket operation),
  ``retry`` (:class:`~soajs.connector.RetryPolicy`) and ``breaker``
  (:class:`~soajs.connector.BreakerPolicy`) tune the calls; ``client`` replaces
  the shared pooled client.
* ``deadline`` (seconds of wall clock for a whole call, retries included;
  default the largest value of ``timeout``, 10 s), ``attempt_deadline``
  (for one request and its whole answer; default none) and
  ``max_response_bytes`` (the cap on a buffered answer) bound each call;
  ``None`` lifts one. Each may also be given per call.

Cheap to create (one per request is fine); the pool and the breakers are
process-wide.
"""


class ServiceConnector(BaseConnector):
    __doc__ = _DOC.format(kind="Synchronous", cls="ServiceConnector")

    def __init__(
        self,
        context: ContextData | None = None,
        *,
        client: httpx.Client | None = None,
        **options: Any,
    ) -> None:
        super().__init__(context, **options)
        if client is not None:
            fit_client(client)  # its sockets obey the deadlines too (only during our calls)
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

        Also per call: ``deadline``, ``attempt_deadline``, ``max_response_bytes``.
        Returns the answer, its body read (whatever its status, after retries);
        raises :class:`NoRouteError`, :class:`CircuitOpenError`,
        :class:`ServiceUnavailableError` (transport failure after retries;
        :class:`DeadlineExceededError` when a deadline cut it),
        :class:`ResponseTooLargeError` or :class:`InvalidCallError` (an address
        the transport cannot use): all :class:`ConnectorError`.
        """
        return self._run(self._start(name, method, path, version, idempotent, kwargs))

    def request_data(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """:meth:`request`, then the ``data`` of the SOAJS envelope it answered.

        Raises what :meth:`request` raises, and
        :class:`~soajs.connector.errors.ServiceError` (``status``, ``codes``,
        ``details``) when the service answered an error (``result: false``,
        whatever the status), see :func:`soajs.connector.unwrap`.
        """
        answer = self.request(name, method, path, version, idempotent=idempotent, **kwargs)
        return unwrap(answer, service=name, version=version, max_bytes=None)

    @contextmanager
    def stream(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[httpx.Response]:
        """``with connector.stream("b", "GET", "/export") as answer:`` read it piece by piece.

        Retried like :meth:`request` until the answer's headers arrive; the
        body is yours to read, still under the call's ``deadline`` (pass
        ``deadline=None`` for a long download) and, only if you pass
        ``max_response_bytes``, a size cap. Closed when the block ends.
        """
        call = self._start(name, method, path, version, idempotent, kwargs, streaming=True)
        response = self._run(call)
        try:
            yield response
        except body.TooLarge as exc:
            raise call.too_large(exc) from None
        except httpx.TransportError as exc:
            raise call.unavailable(call.timed_out(exc)) from exc
        except httpx.RequestError as exc:
            raise call.unavailable(exc) from exc
        finally:
            response.close()

    def _run(self, call: Call) -> httpx.Response:
        client = self.client or transport.sync_client()

        def attempt() -> httpx.Response:
            call.deadline.start_attempt()
            connection = call.pick()
            while True:
                try:
                    response = self._exchange(call, client, connection)
                except httpx.TransportError as exc:
                    error = call.timed_out(exc)
                    failover = call.failed(connection, error)
                    if failover is None:
                        raise error from error.__cause__
                    connection = failover
                    continue
                except INVALID_ERRORS as exc:  # an address the transport cannot use
                    connection = call.invalid(connection, exc)
                    continue
                call.succeeded(connection, response)
                return response

        try:
            with connector_call(call):  # metrics, span, traceparent (observability)
                result: httpx.Response = tenacity.Retrying(**call.retrying_kwargs())(attempt)
        except httpx.RequestError as exc:  # transport, too many redirects, undecodable body
            raise call.unavailable(exc) from exc
        except body.TooLarge as exc:
            raise call.too_large(exc) from None
        return result

    @staticmethod
    def _exchange(call: Call, client: httpx.Client, connection: Connection) -> httpx.Response:
        """One attempt: send, follow redirects (see redirects.py), read the body under the cap."""
        deadline = call.deadline
        token = ACTIVE.set(deadline.end) if deadline.bounded else None
        try:
            request = call.build(client, connection)
            stripped, hops = False, 0
            while True:
                response = client.send(request, **call.send_kwargs(stripped))
                if not (response.has_redirect_location and call.follows(client)):
                    break
                response.close()
                hops += 1
                request, stripped = call.redirect(client, request, response, hops, stripped)
            try:
                deadline.check()
                limit = call.limit_for(response)
                body.check_length(response, limit)
                response.stream = body.SyncBody(
                    cast(httpx.SyncByteStream, response.stream), call.body_deadline(response), limit
                )
                if call.reads_body(response):
                    body.read(response, limit)
            except BaseException:
                response.close()
                raise
        finally:
            if token is not None:
                ACTIVE.reset(token)
        return response

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


class AsyncServiceConnector(BaseConnector):
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
        return await self._run(self._start(name, method, path, version, idempotent, kwargs))

    async def request_data(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """The async twin of :meth:`ServiceConnector.request_data`."""
        answer = await self.request(name, method, path, version, idempotent=idempotent, **kwargs)
        return unwrap(answer, service=name, version=version, max_bytes=None)

    @asynccontextmanager
    async def stream(
        self,
        name: str,
        method: str,
        path: str,
        version: str | int | None = None,
        *,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[httpx.Response]:
        """The async twin of :meth:`ServiceConnector.stream` (``async with``, ``aiter_bytes()``)."""
        call = self._start(name, method, path, version, idempotent, kwargs, streaming=True)
        response = await self._run(call)
        try:
            yield response
        except body.TooLarge as exc:
            raise call.too_large(exc) from None
        except httpx.TransportError as exc:
            raise call.unavailable(call.timed_out(exc)) from exc
        except httpx.RequestError as exc:
            raise call.unavailable(exc) from exc
        finally:
            await response.aclose()

    async def _run(self, call: Call) -> httpx.Response:
        client = self.client or transport.async_client()

        async def attempt() -> httpx.Response:
            call.deadline.start_attempt()
            connection = call.pick()
            while True:
                try:
                    response = await self._exchange(call, client, connection)
                except httpx.TransportError as exc:
                    error = call.timed_out(exc)
                    failover = call.failed(connection, error)
                    if failover is None:
                        raise error from error.__cause__
                    connection = failover
                    continue
                except INVALID_ERRORS as exc:  # an address the transport cannot use
                    connection = call.invalid(connection, exc)
                    continue
                call.succeeded(connection, response)
                return response

        try:
            with connector_call(call):  # metrics, span, traceparent (observability)
                result: httpx.Response = await tenacity.AsyncRetrying(**call.retrying_kwargs())(
                    attempt
                )
        except httpx.RequestError as exc:  # transport, too many redirects, undecodable body
            raise call.unavailable(exc) from exc
        except body.TooLarge as exc:
            raise call.too_large(exc) from None
        return result

    @classmethod
    async def _exchange(
        cls, call: Call, client: httpx.AsyncClient, connection: Connection
    ) -> httpx.Response:
        deadline = call.deadline
        if not deadline.bounded:
            return await cls._attempt(call, client, connection)
        left = deadline.remaining()
        if left <= 0:
            raise deadline.exceeded()
        try:
            async with asyncio.timeout(left):
                return await cls._attempt(call, client, connection)
        except TimeoutError:
            raise deadline.exceeded() from None

    @staticmethod
    async def _attempt(
        call: Call, client: httpx.AsyncClient, connection: Connection
    ) -> httpx.Response:
        """The async twin of :meth:`ServiceConnector._exchange`."""
        request = call.build(client, connection)
        stripped, hops = False, 0
        while True:
            response = await client.send(request, **call.send_kwargs(stripped))
            if not (response.has_redirect_location and call.follows(client)):
                break
            await response.aclose()
            hops += 1
            request, stripped = call.redirect(client, request, response, hops, stripped)
        try:
            limit = call.limit_for(response)
            body.check_length(response, limit)
            # a body read now is under the attempt's asyncio.timeout already
            reads = call.reads_body(response)
            response.stream = body.AsyncBody(
                cast(httpx.AsyncByteStream, response.stream),
                None if reads else call.body_deadline(response),
                limit,
            )
            if reads:
                await body.aread(response, limit)
        except BaseException:
            await response.aclose()
            raise
        return response

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
