"""The envelope for Starlette and FastAPI: ``install_handlers(app, config)``.

>>> install_handlers(app, registry, unhandled=True, validation=True)  # doctest: +SKIP

* a raised :class:`~soajs.response.SoajsError` answers its envelope and status;
* a :class:`~soajs.connector.ConnectorError` the handler let through answers
  an envelope too (see :mod:`soajs.response.answers`);
* ``unhandled=True``: any other exception answers 500, code 164, nothing of
  the exception in the body, logged once (bounded) with its traceback; an
  error after the response started is left to the server, as before;
* ``validation=True`` (FastAPI): a ``RequestValidationError`` answers 400,
  code 173, naming the fields (never their values).

``source`` gives the ``errors`` map: a :class:`~soajs.Config`, the
RegistryManager built with one, or a mapping ``{code: message}``; by default
the registry given to :func:`soajs.contrib.fastapi.setup`.
:func:`handle_soajs_error` is the handler alone, for
``app.add_exception_handler(SoajsError, handle_soajs_error)``. Starlette's
``HTTPException`` (404, 405...) keeps its own answer.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from soajs.connector.errors import ConnectorError
from soajs.response.answers import (
    Answer,
    answer_connector,
    answer_error,
    answer_unhandled,
    answer_validation,
)
from soajs.response.envelope import (
    ENVELOPE_CONTENT_TYPE,
    ErrorsSource,
    SoajsError,
    build_response,
    dumps,
)

__all__ = [
    "UnhandledErrors",
    "envelope_response",
    "error_response",
    "handle_soajs_error",
    "install_handlers",
]


def app_source(app: Any) -> ErrorsSource:
    """The errors source ``install_handlers`` recorded on ``app``, else ``setup``'s registry."""
    state = getattr(app, "state", None)
    found = getattr(state, "soajs_errors_source", None)
    return found if found is not None else getattr(state, "soajs_registry", None)


async def handle_soajs_error(request: Request, exc: Exception) -> Response | None:
    """The exception handler of :class:`SoajsError` (the app's errors source)."""
    assert isinstance(exc, SoajsError)
    answer = answer_error(exc, app_source(request.scope.get("app")))
    if request.scope["type"] == "websocket":
        await _websocket(request, answer)
        return None
    return _response(answer)


async def _websocket(conn: Any, answer: Answer) -> None:
    """A websocket endpoint's error: the envelope as the handshake's refusal where the
    server can send one, else a close (1008 for a 4xx status, 1011 for a 5xx)."""
    websocket: WebSocket = conn
    try:
        if websocket.application_state == WebSocketState.CONNECTING and (
            "websocket.http.response" in (websocket.scope.get("extensions") or {})
        ):
            await websocket.send_denial_response(_response(answer))
        else:
            await websocket.close(code=1011 if answer.status >= 500 else 1008)
    except (RuntimeError, OSError):  # already closed, or the client is gone
        pass


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


def envelope_response(
    data: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A ready response with the success envelope of ``data``."""
    return Response(
        dumps(build_response(data)),
        status_code=status,
        headers=headers,
        media_type=ENVELOPE_CONTENT_TYPE,
    )


def error_response(exc: SoajsError, source: ErrorsSource = None) -> Response:
    """A ready response with the error envelope of ``exc`` (its status and headers)."""
    return _response(answer_error(exc, source))


class UnhandledErrors:
    """ASGI middleware: an exception no handler took, before the answer started,
    becomes the 500 envelope (added by ``install_handlers(..., unhandled=True)``); a
    :class:`SoajsError` or connector error raised by a middleware outside the
    exception handlers answers its own envelope."""

    def __init__(self, app: ASGIApp, source: ErrorsSource = None) -> None:
        self.app = app
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            source = self.source if self.source is not None else app_source(scope.get("app"))
            if isinstance(exc, SoajsError):  # raised by a middleware, outside the handlers
                answer = answer_error(exc, source)
            elif isinstance(exc, ConnectorError):
                answer = answer_connector(exc, source)
            else:
                where = f"{scope.get('method', '')} {scope.get('path', '')}"
                answer = answer_unhandled(exc, source, where)
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        *[
                            (name.lower().encode("latin-1"), value.encode("latin-1"))
                            for name, value in answer.headers.items()
                            if name.lower() != "content-type"
                        ],
                        (b"content-type", ENVELOPE_CONTENT_TYPE.encode()),
                        (b"content-length", str(len(answer.body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer.body})


def install_handlers(
    app: Any, source: ErrorsSource = None, *, unhandled: bool = False, validation: bool = False
) -> None:
    """Register the envelope's exception handlers on a Starlette or FastAPI ``app``
    (before it starts: ``unhandled`` adds a middleware)."""

    if source is not None:
        app.state.soajs_errors_source = source

    async def on_connector_error(request: Request, exc: Exception) -> Response | None:
        assert isinstance(exc, ConnectorError)
        answer = answer_connector(exc, app_source(request.scope.get("app")))
        if request.scope["type"] == "websocket":
            await _websocket(request, answer)
            return None
        return _response(answer)

    app.add_exception_handler(SoajsError, handle_soajs_error)
    app.add_exception_handler(ConnectorError, on_connector_error)
    if validation:
        from fastapi.exceptions import RequestValidationError

        async def on_validation(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, RequestValidationError)
            return _response(answer_validation(exc.errors(), app_source(request.scope.get("app"))))

        app.add_exception_handler(RequestValidationError, on_validation)
    if unhandled:
        app.add_middleware(UnhandledErrors, source=source)
