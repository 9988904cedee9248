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
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Unpack

from soajs.connector import transport as connector_transport
from soajs.context.current import CURRENT
from soajs.context.parser import HEADER
from soajs.middleware.core import STRICT_BODY, AdapterCore, MiddlewareOptions
from soajs.middleware.health import HealthAnswer, HealthEndpoints
from soajs.middleware.problem import PROBLEM_CONTENT_TYPE

__all__ = ["SOAJSMiddleware"]

logger = logging.getLogger("soajs.middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
        self.app = app
        self.registry = registry
        self.core = AdapterCore(registry, "SOAJSMiddleware", **options)
        self._owns_registry = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
                return
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
        core = self.core
        health = core.health
        if health is not None and kind == "http" and scope["path"] in health.paths:
            answer = await self._health(health, scope["method"], scope["path"])
            if answer is not None:
                await _respond(send, answer.status, answer.content_type, answer.body)
                return

        # The hot path: a loop rather than a comprehension (no extra frame on
        # 3.11), a list only when the header is there (kept to see duplicates).
        headers = scope["headers"]
        values: list[bytes] | None = None
        for name, value in headers:
            if name == HEADER:
                if values is None:
                    values = [value]
                else:
                    values.append(value)
        context = None
        if values is not None:
            resolver = core.resolver
            if resolver.trust.any:  # the peer does not matter
                result = resolver.resolve(values, None)
            else:
                result = core.resolve_scope(values, scope)
            context = result.context
            if context is None and resolver.ignores_header(result):
                scope["headers"] = [(n, v) for n, v in headers if n != HEADER]
        if context is None and core.strict:
            if kind == "http":
                await _respond(send, 400, PROBLEM_CONTENT_TYPE, STRICT_BODY)
            else:
                await _refuse_websocket(scope, receive, send)
            return
        scope["soajs"] = context
        state = scope.get("state")
        if state is None:
            scope["state"] = {"soajs": context}
        else:
            state["soajs"] = context
        token = CURRENT.set((context, scope))
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT.reset(token)

    async def _health(self, health: HealthEndpoints, method: str, path: str) -> HealthAnswer | None:
        if health.needs_io(path):
            # /reloadRegistry: awaits the registry's own worker thread with a deadline;
            # never the loop's shared default executor, which a storm would fill.
            return await health.answer_async(method, path)
        return health.answer(method, path)

    # -- lifespan -----------------------------------------------------------
    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = False

        async def wrapped_receive() -> Message:
            nonlocal received
            received = True
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
            return message

        try:
            await self.app(scope, wrapped_receive, send)
        except Exception as exc:
            if received:  # the app's own lifespan failed: the server reports it
                raise
            # An app that does not speak lifespan (Django's ASGIHandler raises):
            # the registry and the listener must start all the same.
            logger.info(
                "the app refused the lifespan scope (%s: %s); SOAJSMiddleware answers it",
                type(exc).__name__,
                exc,
            )
            await self._own_lifespan(receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            phase = "startup" if message["type"] == "lifespan.startup" else "shutdown"
            try:
                await (self.startup() if phase == "startup" else self.shutdown())
            except Exception as exc:
                logger.exception("SOAJSMiddleware %s failed", phase)
                await send({"type": f"lifespan.{phase}.failed", "message": type(exc).__name__})
                return
            await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                return

    async def startup(self) -> None:
        """Start the registry (if nobody did) and the maintenance listener."""
        registry = self.registry
        if registry is not None and hasattr(registry, "start") and not getattr(
            registry, "is_running", True
        ) and not getattr(registry, "is_ready", True):  # fmt: skip
            self._owns_registry = True
            await asyncio.to_thread(registry.start)
        if self.core.listener is not None:
            await asyncio.to_thread(self.core.listener.start)

    async def shutdown(self) -> None:
        """Stop what :meth:`startup` started, and close this loop's pooled connector client."""
        await connector_transport.aclose()
        if self.core.listener is not None:
            await asyncio.to_thread(self.core.listener.stop)
        if self._owns_registry and self.registry is not None:
            await asyncio.to_thread(self.registry.stop)


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


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """Strict mode: refuse the handshake, with the problem+json body where the server can."""
    await receive()  # websocket.connect
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(STRICT_BODY)).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": STRICT_BODY})
    else:
        await send({"type": "websocket.close", "code": 1008})  # policy violation: HTTP 403
