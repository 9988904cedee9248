"""``SOAJSWSGIMiddleware``: the request context for WSGI apps (Flask, Django, ...).

``app.wsgi_app = SOAJSWSGIMiddleware(app.wsgi_app, registry)``. The context
lands in ``environ["soajs.context"]`` and :func:`soajs.current_context`
(reset in ``finally``, and current again while a lazy body is iterated); parsing is the shared
:class:`~soajs.context.ContextResolver`, so it behaves as the ASGI middleware
does. Safe under threaded servers: no per-request state lives on ``self``.

WSGI (PEP 3333) hands header values over as latin-1 ``str``; they are turned
back into the bytes the gateway sent before decoding, so non-ASCII tenant and
user names arrive intact.

Security: the header is an identity assertion that anyone reaching the
service directly can forge; pass ``trusted_gateways`` (or set
``SOAJS_TRUSTED_GATEWAYS``) so it is believed only from your gateways
(``REMOTE_ADDR``). A header from any other peer is removed from the environ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Unpack

from soajs import apilist
from soajs.context.current import RESET_CURRENT, SET_CURRENT, ContextIterable
from soajs.middleware.accessors import ENVIRON_KEY
from soajs.middleware.core import (
    ENVIRON_HEADER,
    AdapterCore,
    MiddlewareOptions,
    warn_if_never_started,
)
from soajs.observability import tracing
from soajs.observability.export import metrics_answer

__all__ = ["ENVIRON_HEADER", "SOAJSWSGIMiddleware"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SOAJSWSGIMiddleware:
    """Wraps a WSGI app; options are :class:`~soajs.middleware.core.MiddlewareOptions`.

    The maintenance listener (port + ``maintenanceInc``) starts here, since
    WSGI has no lifespan; :meth:`close` stops it. A maintenance port that
    cannot be (beyond 65535) raises :class:`~soajs.errors.ConfigurationError`
    here, so the server refuses to load the app with that message.
    """

    def __init__(
        self, wsgi_app: WSGIApp, registry: Any = None, **options: Unpack[MiddlewareOptions]
    ) -> None:
        self.wsgi_app = wsgi_app
        self.registry = registry
        self.core = AdapterCore(registry, "SOAJSWSGIMiddleware", **options)
        apilist.announce(registry, wsgi_app)  # Flask: the app's url_map, for the registration
        if self.core.listener is not None:
            self.core.listener.start()

    def close(self) -> None:
        """Stop the maintenance listener. Idempotent."""
        if self.core.listener is not None:
            self.core.listener.stop()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        core = self.core
        if core.first:
            core.first_request(environ.get("SERVER_PORT"))
            warn_if_never_started(self.registry, core)
        health = core.health
        if health is not None:
            path = environ.get("PATH_INFO", "")
            if path in health.paths:
                answer = health.answer(environ.get("REQUEST_METHOD", "GET"), path)
                if answer is not None:
                    start_response(
                        _status(answer.status),
                        [("Content-Type", answer.content_type),
                         ("Content-Length", str(len(answer.body)))],
                    )  # fmt: skip
                    return [answer.body]

        if core.metrics_path is not None and environ.get("PATH_INFO") == core.metrics_path:
            status, text, kind = metrics_answer()
            start_response(
                _status(status), [("Content-Type", kind), ("Content-Length", str(len(text)))]
            )
            return [text]
        context = core.environ_context(environ)[0]
        if context is None and core.strict:
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", core.refusal_type),
                    ("Content-Length", str(len(core.refusal_body))),
                ],
            )
            return [core.refusal_body]
        environ[ENVIRON_KEY] = context
        current = (context, environ)
        token = SET_CURRENT(current)
        trace = tracing.attach_wsgi(environ) if tracing.api._TRACER_PROVIDER is not None else None
        try:
            body = self.wsgi_app(environ, start_response)
        finally:
            RESET_CURRENT(token)
            if trace is not None:
                tracing.detach(trace)
        if context is None or type(body) is list or type(body) is tuple:
            return body
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            return body  # the server's sendfile path: no handler code runs there
        # produced lazily, by the server, after this returns: keep the context current
        return ContextIterable(body, current)


_REASONS = {200: "OK", 400: "Bad Request", 501: "Not Implemented", 503: "Service Unavailable"}
_REASONS[500] = "Internal Server Error"


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Unknown')}"
