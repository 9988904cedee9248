"""Correlated logs, and the library's own HTTP traffic kept quiet.

``soajs.observability.install_logging()`` adds `SoajsContextFilter`
to the root logger's handlers: every record made during a request then has
``soajs_tenant`` (the tenant code), ``soajs_request_id`` (the inbound
``X-Request-ID``) and ``soajs_trace_id`` (the current OpenTelemetry trace id,
else the one of the inbound ``traceparent``), ``"-"`` outside a request.
Use them in a format: ``%(soajs_tenant)s %(soajs_request_id)s %(soajs_trace_id)s``.

The values come from the request the middleware made current
(`soajs.context.current.CURRENT`, a context variable set per request
and reset in ``finally``: per thread and per asyncio task, never leaking
into the next request). Each value is cut to 64 printable characters.

httpx logs one INFO line per request on the ``httpx`` logger; the registry
worker polls every few seconds. `LibraryTrafficFilter` (installed on
that logger when this module is imported) drops the INFO and DEBUG lines of
every exchange the library itself makes: control-plane calls (registry loads,
registrations: made under the registry client's deadline) and connector calls
(made under `library_traffic`), each a context variable of that call only. In
their place the ``soajs.http`` logger has one DEBUG line per exchange with
structured fields (``soajs_kind``, ``http_method``, ``http_path`` without the
query, ``http_status``). The application's own httpx calls log as usual.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from soajs.context.current import CURRENT
from soajs.observability import tracing

__all__ = [
    "LibraryTrafficFilter",
    "SoajsContextFilter",
    "install_logging",
    "library_traffic",
    "quiet_library_httpx",
]

NONE = "-"
_UNSAFE = re.compile(r"[^\x21-\x7e]")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def _clean(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or not value:
        return NONE
    return _UNSAFE.sub("?", value[:64])


def _header(request: MutableMapping[str, Any], name: bytes, wsgi: str) -> Any:
    if "type" in request and "headers" in request:  # an ASGI scope
        for key, value in request["headers"]:
            if key == name:
                return value
        return None
    return request.get(wsgi)


class SoajsContextFilter(logging.Filter):
    """Adds ``soajs_tenant``, ``soajs_request_id`` and ``soajs_trace_id`` to records.

    Never drops a record; a value already set (``extra=``) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            context, request = CURRENT.get()
            tenant = getattr(getattr(context, "tenant", None), "code", None)
            request_id = trace = None
            if request is not None:
                request_id = _header(request, b"x-request-id", "HTTP_X_REQUEST_ID")
            trace = tracing.current_trace_id()
            if trace is None and request is not None:
                parent = _header(request, b"traceparent", "HTTP_TRACEPARENT")
                if isinstance(parent, bytes):
                    parent = parent.decode("latin-1")
                found = _TRACEPARENT.fullmatch(parent.strip()) if isinstance(parent, str) else None
                trace = found.group(1) if found and found.group(1) != "0" * 32 else None
        except Exception:  # a log line must never fail because of us
            tenant = request_id = trace = None
        for name, value in (
            ("soajs_tenant", tenant),
            ("soajs_request_id", request_id),
            ("soajs_trace_id", trace),
        ):
            if not hasattr(record, name):
                setattr(record, name, _clean(value))
        return True


def install_logging(logger: logging.Logger | None = None) -> SoajsContextFilter:
    """Add a `SoajsContextFilter` to every handler of ``logger`` (default: root).

    A handler added later needs ``handler.addFilter(SoajsContextFilter())``.
    Idempotent.
    """
    target = logger if logger is not None else logging.getLogger()
    found = SoajsContextFilter()
    if not target.handlers:
        logging.basicConfig()
    for handler in target.handlers:
        existing = [f for f in handler.filters if isinstance(f, SoajsContextFilter)]
        if existing:
            found = existing[0]
        else:
            handler.addFilter(found)
    return found


_LIBRARY: ContextVar[str | None] = ContextVar("soajs_library_traffic", default=None)
_http_log = logging.getLogger("soajs.http")


@contextmanager
def library_traffic(kind: str) -> Iterator[None]:
    """httpx lines of the exchanges made inside are the library's own (``kind``): quiet."""
    token = _LIBRARY.set(kind)
    try:
        yield
    finally:
        _LIBRARY.reset(token)


class LibraryTrafficFilter(logging.Filter):
    """Drops httpx's INFO/DEBUG lines of the library's own exchanges (a DEBUG line of
    ``soajs.http`` with structured fields instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        kind = _LIBRARY.get()
        if kind is None:
            from soajs.registry.transport import _DEADLINE

            if _DEADLINE.get() is None:
                return True  # the application's own call
            kind = "control_plane"
        if record.levelno == logging.INFO and _http_log.isEnabledFor(logging.DEBUG):
            _restate(kind, record)
        return False


def _restate(kind: str, record: logging.LogRecord) -> None:
    try:
        # httpx: 'HTTP Request: %s %s "%s %d %s"' (method, url, version, status, reason)
        args = record.args if isinstance(record.args, tuple) else ()
        method, url, status = (args[0], args[1], args[3]) if len(args) >= 4 else ("?", "?", 0)
        path = str(getattr(url, "path", url)).split("?", 1)[0][:200]
        host = str(getattr(url, "host", ""))[:100]
        fields = {
            "soajs_kind": kind,
            "http_method": str(method)[:16],
            "http_host": host,
            "http_path": path,
            "http_status": status if isinstance(status, int) else 0,
        }
        _http_log.debug(
            "%s %s %s%s -> %s", kind, fields["http_method"], host, path, status, extra=fields
        )
    except Exception:  # a log line must never fail because of us
        return


def quiet_library_httpx() -> None:
    """Install `LibraryTrafficFilter` on the ``httpx`` logger (idempotent)."""
    target = logging.getLogger("httpx")
    if not any(isinstance(f, LibraryTrafficFilter) for f in target.filters):
        target.addFilter(LibraryTrafficFilter())
