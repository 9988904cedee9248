"""Django middleware: add ``"soajs.contrib.django.SOAJSMiddleware"`` to ``MIDDLEWARE``.

Configured from ``settings.SOAJS`` (a dict): ``registry`` (a RegistryManager
or the dotted path of one) and any of the
:class:`~soajs.middleware.core.MiddlewareOptions` (``trusted_gateways``,
``strict``, ``public_service``...). The context is ``request.soajs``; it is also
:func:`soajs.current_context` while the view runs and while a streaming body
(``StreamingHttpResponse``) is produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from soajs import apilist
from soajs.context.current import RESET_CURRENT, SET_CURRENT, ContextIterable, Current
from soajs.middleware.core import AdapterCore, warn_if_never_started
from soajs.observability import tracing
from soajs.observability.export import metrics_answer

__all__ = ["SOAJSMiddleware"]


class SOAJSMiddleware:
    """Sets ``request.soajs`` (``ContextData`` or ``None``) for every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        conf: dict[str, Any] = dict(getattr(settings, "SOAJS", {}) or {})
        registry = conf.pop("registry", None)
        if isinstance(registry, str):
            registry = import_string(registry)
        self.core = AdapterCore(registry, "soajs.contrib.django.SOAJSMiddleware", **conf)
        apilist.announce(registry, "django")  # the URL patterns, for the registration
        if self.core.listener is not None:
            self.core.listener.start()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        core = self.core
        if core.first:
            core.first_request(request.META.get("SERVER_PORT"))
            warn_if_never_started(core.registry, core)
        health = core.health
        if health is not None and request.path_info in health.paths:
            answer = health.answer(request.method or "GET", request.path_info)
            if answer is not None:
                return HttpResponse(
                    answer.body, status=answer.status, content_type=answer.content_type
                )
        if core.metrics_path is not None and request.path_info == core.metrics_path:
            status, text, kind = metrics_answer()  # metrics_on_service_port=True
            return HttpResponse(text, status=status, content_type=kind)
        context, stripped = core.environ_context(request.META)
        if stripped:
            request.__dict__.pop("headers", None)  # rebuilt from META without it
        if context is None and core.strict:
            return HttpResponse(core.refusal_body, status=400, content_type=core.refusal_type)
        request.soajs = context
        current = (context, request.META)
        token = SET_CURRENT(current)
        # an incoming traceparent is the parent of the spans made by the view (as ASGI/WSGI)
        trace = (
            tracing.attach_wsgi(request.META) if tracing.api._TRACER_PROVIDER is not None else None
        )
        try:
            response = self.get_response(request)
        finally:
            RESET_CURRENT(token)
            if trace is not None:
                tracing.detach(trace)
        if (
            context is not None
            and getattr(response, "streaming", False)
            and getattr(response, "file_to_stream", None) is None  # FileResponse: sendfile
        ):
            # A streaming body is produced after this returns, by the server: make the
            # context current around each chunk too (and only then).
            content = response.streaming_content
            if getattr(response, "is_async", False):
                response.streaming_content = _async_with_context(content, current)
            else:
                response.streaming_content = ContextIterable(content, current)
        return response


async def _async_with_context(chunks: AsyncIterable[Any], current: Current) -> AsyncIterator[Any]:
    iterator = aiter(chunks)
    try:
        while True:
            token = SET_CURRENT(current)
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                RESET_CURRENT(token)
            yield chunk
    finally:  # the client went away: close the body now, not at garbage collection
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
