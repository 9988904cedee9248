"""``SOAJSMiddleware``: the request context for ASGI apps (FastAPI, Starlette, ...).

A pure ASGI middleware (not ``BaseHTTPMiddleware``): per request it finds the
``soajsinjectobj`` values in ``scope["headers"]``, asks the shared
:class:`~soajs.context.ContextResolver`, and exposes the result as
``scope["soajs"]``, ``request.state.soajs`` and :func:`soajs.current_context`
(reset in ``finally``). ``lifespan`` passes through; when the registry was
built with ``autostart=False`` it is started and stopped with the app.

Security: the header is an identity assertion that anyone reaching the
service directly can forge; pass ``trusted_gateways`` (or set
``SOAJS_TRUSTED_GATEWAYS``) so it is believed only from your gateways. A
header from any other peer is ignored and removed before the app sees it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from types import FunctionType, MethodType
from typing import Any, Unpack

from soajs import apilist
from soajs.connector import transport as connector_transport
from soajs.context.current import RESET_CURRENT, SET_CURRENT
from soajs.context.parser import HEADER, ParseResult
from soajs.context.resolver import CACHED_OK_INDEX as _I_OK_CACHED
from soajs.context.trust import FORWARDING_HEADERS
from soajs.middleware.asgi_types import ASGIApp, Receive, Scope, Send
from soajs.middleware.core import AdapterCore, MiddlewareOptions
from soajs.middleware.health import HealthAnswer, HealthEndpoints
from soajs.middleware.lifespan import serve_lifespan
from soajs.observability import tracing
from soajs.observability.export import metrics_answer
from soajs.registry.outage import probes_while_degraded

__all__ = ["SOAJSMiddleware"]

logger = logging.getLogger("soajs.middleware")

#: The names the restricted-trust loop looks for: one hash and lookup per name
#: costs less than comparing it with each of four names.
_WATCHED = frozenset((HEADER, *FORWARDING_HEADERS))


class SOAJSMiddleware:
    """``app.add_middleware(SOAJSMiddleware, registry=registry, ...)``.

    ``registry`` is the service's :class:`~soajs.RegistryManager` (contexts
    reach its current registry; health answers use it); the keyword options
    are :class:`~soajs.middleware.core.MiddlewareOptions`. The maintenance
    listener starts and stops with the app's lifespan.
    """

    def __init__(
        self, app: ASGIApp, registry: Any = None, **options: Unpack[MiddlewareOptions]
    ) -> None:
        self.app = app  # the property below: also sets _call
        self.registry = registry
        self.core = AdapterCore(registry, "SOAJSMiddleware", **options)
        self._owns_registry = False
        self._lifespan_ran = False

    @property
    def app(self) -> ASGIApp:
        """The wrapped ASGI app."""
        return self._app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app
        # An instance of a class with a Python __call__ (Starlette's middlewares, an
        # app object): its bound method, which a call reaches without building an
        # argument tuple and looking __call__ up on the type each time.
        call = inspect.getattr_static(type(app), "__call__", None)
        fast = isinstance(call, FunctionType) and not isinstance(app, type)
        self._call: ASGIApp = MethodType(call, app) if fast else app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await serve_lifespan(self._app, scope, receive, send, self.startup, self.shutdown)
                return
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
        core = self.core
        # one lookup for what the middleware answers itself (health, /metrics; every
        # path until the first request has been seen)
        if scope["path"] in core.own_paths and await self._answer_own(scope, send, kind):
            return

        # The hot path: loops rather than comprehensions or a dict (no extra frame
        # on 3.11, and comparing a name costs less than hashing it); the values
        # of a duplicated header are listed later (kept to refuse it).
        headers = scope["headers"]
        resolver = core.resolver
        found: bytes | None = None
        repeated = False
        if resolver.trust.any:
            header = HEADER  # a local: LOAD_FAST pairs with the name's into one instruction
            for name, value in headers:
                if name == header:
                    repeated = found is not None
                    found = value
        else:  # the peer matters: did a forwarding header come too?
            forwarded = False
            try:
                for name, value in headers:
                    if name in _WATCHED:
                        if name == HEADER:
                            repeated = found is not None
                            found = value
                        else:
                            forwarded = True
            except (TypeError, ValueError):  # an unhashable name (a bytearray, a writable
                # memoryview): compare instead
                found, repeated, forwarded = _scan(headers)
        if found is None:
            if core.strict:
                await _refuse(scope, receive, send, kind, core)
                return
            context = None
        else:
            if not repeated and (
                resolver.inline_any
                or (  # a listed peer, as it connected (inline_listed: any peer is not trusted,
                    # so ``forwarded`` was set by the second loop)
                    resolver.inline_listed
                    and not forwarded
                    and (client := scope.get("client"))
                    and resolver.trust.is_trusted(peer := client[0])
                )
            ):
                # resolve()'s own steps for one header from a trusted peer, inlined (a
                # cache hit is the common request, and calls are most of its cost);
                # the last-hit check is ContextCache.get's own (see there)
                cache = resolver.cache
                last = cache._last
                result = (
                    last[1] if last[2] == cache._inserts and last[0] == found else cache.get(found)
                )
                if result is None:
                    result = resolver.parse_and_store([found])
                elif result.context is None:  # a cached refusal: logged and counted there
                    result = resolver.resolve([found], None if resolver.inline_any else peer)
                elif (counts := resolver.counts) is not None:
                    counts[_I_OK_CACHED] += 1
            else:
                result = self._resolve(scope, headers, found, repeated)
            context = result.context
            if context is None:
                if resolver.ignores_header(result):
                    scope["headers"] = [(n, v) for n, v in headers if n != HEADER]
                if core.strict:
                    await _refuse(scope, receive, send, kind, core)
                    return
        scope["soajs"] = context
        state = scope.get("state")  # not every server has lifespan state (httpx, Daphne)
        if state is None:
            scope["state"] = {"soajs": context}
        else:
            state["soajs"] = context
        token = SET_CURRENT((context, scope))
        if tracing.api._TRACER_PROVIDER is None:
            try:
                await self._call(scope, receive, send)
            finally:
                RESET_CURRENT(token)
            return
        try:
            trace = tracing.attach_asgi(scope)
            try:
                await self._call(scope, receive, send)
            finally:
                tracing.detach(trace)
        finally:
            RESET_CURRENT(token)

    def _resolve(
        self, scope: Scope, headers: list[tuple[bytes, bytes]], found: bytes, repeated: bool
    ) -> ParseResult:
        """The long way: a duplicated header, a public service, proxy hops, or a peer
        that is not listed as it connected."""
        values = [v for n, v in headers if n == HEADER] if repeated else [found]
        if self.core.resolver.trust.any:  # the peer does not matter
            return self.core.resolver.resolve(values, None)
        return self.core.resolve_scope(values, scope)

    async def _answer_own(self, scope: Scope, send: Send, kind: str) -> bool:
        """Answer a health path or /metrics (True when answered); on the first
        request, first note that this process serves requests."""
        core = self.core
        if core.first:
            self._first_request(scope)
        path = scope["path"]
        health = core.health
        if health is not None and kind == "http" and path in health.paths:
            answer = await self._health(health, scope["method"], path)
            if answer is not None:
                await _respond(send, answer.status, answer.content_type, answer.body)
                return True
        if core.metrics_path is not None and kind == "http" and path == core.metrics_path:
            status, text, content_type = await asyncio.to_thread(metrics_answer)
            await _respond(send, status, content_type, text)
            return True
        return False

    async def _health(self, health: HealthEndpoints, method: str, path: str) -> HealthAnswer | None:
        if health.needs_io(path):
            # /reloadRegistry: awaits the registry's own worker thread with a deadline;
            # never the loop's shared default executor, which a storm would fill.
            return await health.answer_async(method, path)
        return health.answer(method, path)

    async def startup(self) -> None:
        """Start the registry (if nobody did) and the maintenance listener.

        Raises when the registry cannot be loaded (unless it was built with
        ``start_degraded=True``) or the maintenance port is not a port.
        """
        self._lifespan_ran = True
        registry = self.registry
        apilist.announce(registry, self.app)  # the app's routes, for the registration
        if registry is not None and hasattr(registry, "start") and not getattr(
            registry, "is_running", True
        ) and not getattr(registry, "is_ready", True):  # fmt: skip
            self._owns_registry = True
            await asyncio.to_thread(registry.start)
        _warn_if_degraded(registry, self.core)
        listener = self.core.listener
        if listener is not None:
            listener.watch_loop(asyncio.get_running_loop())
            try:
                await asyncio.to_thread(listener.start)
            except BaseException:
                await self._stop_registry()
                raise

    async def shutdown(self) -> None:
        """Stop what :meth:`startup` started, and close this loop's pooled connector client."""
        await connector_transport.aclose()
        if self.core.listener is not None:
            await asyncio.to_thread(self.core.listener.stop)
            self.core.listener.watch_loop(None)
        await self._stop_registry()

    async def _stop_registry(self) -> None:
        if self._owns_registry and self.registry is not None:
            await asyncio.to_thread(self.registry.stop)

    def _first_request(self, scope: Scope) -> None:
        server = scope.get("server")
        self.core.first_request(server[1] if server else None)
        if not self._lifespan_ran and self.core.listener is not None:
            logger.warning(
                "%s: the first request came before any lifespan start-up (uvicorn "
                "--lifespan off?): the registry and the maintenance listener were not started "
                "by the middleware; run the server with the lifespan on",
                self.core.component,
            )


def _warn_if_degraded(registry: Any, core: AdapterCore) -> None:
    """One WARNING for a start without a registry, unless the registry said it already."""
    if registry is None or getattr(registry, "is_ready", True):
        return
    if getattr(registry, "started_degraded", False):
        return  # a RegistryManager logged its WARNING, with what each path answers
    readiness = core.health.readiness_path if core.health is not None else "/heartbeat"
    logger.warning(
        "%s: serving WITHOUT a registry (it is not loaded at start-up): %s",
        core.component,
        probes_while_degraded(readiness),
    )


def _scan(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bool, bool]:
    """The restricted-trust loop's answer (the header's last value, whether it was
    repeated, whether a forwarding header came) by comparisons: for names that
    cannot be hashed."""
    found: bytes | None = None
    repeated = forwarded = False
    for name, value in headers:
        if name == HEADER:
            repeated = found is not None
            found = value
        elif name in FORWARDING_HEADERS:
            forwarded = True
    return found, repeated, forwarded


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope: Scope, receive: Receive, send: Send, kind: str, core: AdapterCore) -> None:
    """Strict mode: answer 400 (http), or refuse the handshake, with the refusal body
    where the server can (websocket)."""
    if kind == "http":
        await _respond(send, 400, core.refusal_type, core.refusal_body)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", core.refusal_type.encode()),
                    (b"content-length", str(len(core.refusal_body)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": core.refusal_body})
    else:
        await send({"type": "websocket.close", "code": 1008})  # policy violation: HTTP 403
