"""Native OpenTelemetry instrumentation, through the API only (extra ``otel``).

Without ``opentelemetry-api`` (or with ``SOAJS_OTEL=0``) every function here
is a no-op and the middlewares test one module constant. With it but no SDK
configured, the API's own no-op tracer answers; the middlewares do not even
look for ``traceparent`` until the application sets a tracer provider.

* a CLIENT span per connector call (``soajs.connector <service>``) with the
  service, version, route, attempt count, failover and HTTP status;
  error status on a failure;
* an INTERNAL span per registry load and registration;
* the current span context goes out as ``traceparent`` on mesh and gateway
  calls (``propagate.inject``: whatever propagators the app configured);
* an incoming ``traceparent`` becomes the current context of the request
  (``propagate.extract`` + ``context.attach``, detached in ``finally``),
  unless another instrumentation already made a span current.

Nothing here raises into the library: a broken SDK is logged once and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from soajs.settings import env_flag

__all__ = [
    "AVAILABLE",
    "api",
    "attach_asgi",
    "attach_wsgi",
    "configured",
    "current_trace_id",
    "detach",
    "inject",
    "span",
]

logger = logging.getLogger("soajs.observability")

try:
    if not env_flag("SOAJS_OTEL", True):
        raise ImportError("SOAJS_OTEL=0")
    from opentelemetry import context as _context
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
    from opentelemetry.trace import SpanKind as _SpanKind
    from opentelemetry.trace import Status as _Status
    from opentelemetry.trace import StatusCode as _StatusCode
except Exception:  # ImportError, or a broken install: tracing is off, the library is not
    AVAILABLE = False
else:
    AVAILABLE = True


#: The stand-in for ``opentelemetry.trace`` when it is absent: a module too, so that
#: the hot path's attribute load is the same (specialized) module lookup either way.
_NoApi = ModuleType("soajs_no_tracing")
_NoApi._TRACER_PROVIDER = None  # type: ignore[attr-defined]

#: ``opentelemetry.trace`` (or a stand-in without a provider): the middlewares' hot path
#: tests ``api._TRACER_PROVIDER is not None`` (12 ns; a call to `configured` costs 45).
api: Any = _trace if AVAILABLE else _NoApi

_warned = False


def _warn_once(what: str, exc: BaseException) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("OpenTelemetry %s failed (%s: %s); ignored", what, type(exc).__name__, exc)


def configured() -> bool:
    """True once the application set a tracer provider (an SDK)."""
    return AVAILABLE and getattr(api, "_TRACER_PROVIDER", None) is not None


def _tracer() -> Any:
    return _trace.get_tracer("soajs")


def _has_current_span() -> bool:
    return bool(_trace.get_current_span().get_span_context().is_valid)


def attach_asgi(scope: MutableMapping[str, Any]) -> Any:
    """Make the request's ``traceparent`` current; a token for `detach`, or ``None``."""
    try:
        carrier: dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            if name in (b"traceparent", b"tracestate") and len(value) <= 512:
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return _attach(carrier)
    except Exception as exc:
        _warn_once("context extraction", exc)
        return None


def attach_wsgi(environ: MutableMapping[str, Any]) -> Any:
    """The WSGI twin of `attach_asgi`."""
    try:
        carrier: dict[str, str] = {}
        for key, name in (("HTTP_TRACEPARENT", "traceparent"), ("HTTP_TRACESTATE", "tracestate")):
            value = environ.get(key)
            if isinstance(value, str) and len(value) <= 512:
                carrier[name] = value
        return _attach(carrier)
    except Exception as exc:
        _warn_once("context extraction", exc)
        return None


def _attach(carrier: dict[str, str]) -> Any:
    if "traceparent" not in carrier or _has_current_span():
        return None
    return _context.attach(_propagate.extract(carrier))


def detach(token: Any) -> None:
    """Undo `attach_asgi` / `attach_wsgi` (``None``: nothing to undo)."""
    if token is None:
        return
    try:
        _context.detach(token)
    except Exception as exc:
        _warn_once("context detach", exc)


@contextmanager
def span(name: str, attributes: dict[str, Any], *, client: bool = False) -> Iterator[Any]:
    """A current span around the block (``None`` when tracing is off); error on an exception."""
    if not AVAILABLE:
        yield None
        return
    try:
        kind = _SpanKind.CLIENT if client else _SpanKind.INTERNAL
        manager = _tracer().start_as_current_span(
            name, kind=kind, attributes=attributes, record_exception=False,
            set_status_on_exception=False,
        )  # fmt: skip
        current = manager.__enter__()
    except Exception as exc:
        _warn_once("span start", exc)
        yield None
        return
    try:
        yield current
    except BaseException as exc:
        # the type only: an error's text may name hosts or carry what a log must not
        _safe(current.set_status, _Status(_StatusCode.ERROR, type(exc).__name__))
        _safe(manager.__exit__, type(exc), exc, exc.__traceback__)
        raise
    _safe(manager.__exit__, None, None, None)


def _safe(function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception as exc:
        _warn_once("span update", exc)


def set_attributes(current: Any, attributes: dict[str, Any], error: str | None = None) -> None:
    """Add ``attributes`` to a span from `span` (and an error status)."""
    if current is None:
        return
    _safe(current.set_attributes, attributes)
    if error is not None:
        _safe(current.set_status, _Status(_StatusCode.ERROR, error))


def inject(headers: Any) -> None:
    """Write the current span context (``traceparent``...) into ``headers`` (httpx.Headers)."""
    if not AVAILABLE or not _has_current_span():
        return
    try:
        carrier: dict[str, str] = {}
        _propagate.inject(carrier)
        for name, value in carrier.items():
            headers[name] = value
    except Exception as exc:
        _warn_once("context injection", exc)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or ``None``."""
    if not AVAILABLE:
        return None
    try:
        context = _trace.get_current_span().get_span_context()
    except Exception:
        return None
    return f"{context.trace_id:032x}" if context.is_valid else None
