"""What the library's call sites call: one line each, counts + spans + hooks.

Connector calls (`connector_call`), registry loads
(`registry_load`), registrations (`registration`), breaker
transitions (`breaker_changed`) and the managers the gauges read
(`track_manager`). Each is cheap when metrics and tracing are off and
never raises into the library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from soajs.observability import counters, hooks, tracing
from soajs.observability.logs import library_traffic

if TYPE_CHECKING:
    from soajs.connector.call import Call

__all__ = [
    "breaker_changed",
    "connector_call",
    "no_route",
    "registration",
    "registry_load",
    "track_manager",
    "track_resolver",
]

logger = logging.getLogger("soajs.observability")

_ON = counters.ENABLED


def track_manager(manager: Any) -> None:
    """The gauges read this manager's readiness and snapshot age (held weakly)."""
    counters.managers.add(manager)


def track_resolver(resolver: Any) -> None:
    """The cache gauges read this resolver's cache (held weakly)."""
    counters.resolvers.add(resolver)


def _outcome_of(exc: BaseException) -> str:
    import httpx

    from soajs.connector import body, deadline, errors

    if isinstance(exc, deadline.AttemptDeadline | deadline.CallDeadline):
        return "deadline"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RequestError):
        return "unavailable"
    if isinstance(exc, body.TooLarge):
        return "too_large"

    for kind, name in (
        (errors.CircuitOpenError, "circuit_open"),
        (errors.DeadlineExceededError, "deadline"),
        (errors.ServiceUnavailableError, "unavailable"),
        (errors.ResponseTooLargeError, "too_large"),
        (errors.InvalidCallError, "invalid"),
    ):
        if isinstance(exc, kind):
            return name
    return "error"


@contextmanager
def connector_call(call: Call) -> Iterator[None]:
    """Around one logical connector call (retries and failover included)."""
    primary = call.primary
    service = str(primary.service)
    started = time.perf_counter()
    outcome = "error"
    attributes = {
        "soajs.service": service,
        "soajs.version": str(primary.version),
        "soajs.route": str(primary.mode),
        "http.request.method": call.method,
    }
    with (
        library_traffic("connector"),  # httpx's INFO lines of these exchanges: quiet
        tracing.span(f"soajs.connector {service}", attributes, client=True) as span,
    ):
        try:
            yield
        except BaseException as exc:
            outcome = _outcome_of(exc)
            tracing.set_attributes(span, _after(call), outcome)
            raise
        else:
            status = call.status
            outcome = "server_error" if status is not None and status >= 500 else "ok"
            done = _after(call)
            if status is not None:
                done["http.response.status_code"] = status
            tracing.set_attributes(span, done, f"HTTP {status}" if outcome != "ok" else None)
        finally:
            _count(call, service, outcome, time.perf_counter() - started)


def _after(call: Call) -> dict[str, Any]:
    return {
        "soajs.attempts": call.sent,
        "soajs.failover": call.failed_over is not None,
        "soajs.route": str(call.last.mode),
    }


def _count(call: Call, service: str, outcome: str, seconds: float) -> None:
    if not _ON:
        return
    stats = counters.stats
    route = str(call.last.mode)
    stats.calls.add((service, route, outcome))
    stats.latency.observe((service, route), seconds)
    failover = call.failed_over is not None
    if failover:
        stats.failovers.add((service,))
    retries = call.sent - 1 - int(failover)
    if retries > 0:
        stats.retries.add((service,), float(retries))


def no_route(service: Any) -> None:
    """A call found no route to ``service`` (nothing was sent)."""
    if _ON:
        counters.stats.calls.add((str(service)[:100], "none", "no_route"))


@contextmanager
def registry_load(service: str, *, initial: bool = False) -> Iterator[None]:
    """Around one control-plane registry load (``initial``: the first, in ``start()``)."""
    started = time.monotonic()
    error: BaseException | None = None
    attributes = {"soajs.service": service, "soajs.initial": initial}
    with tracing.span("soajs.registry.load", attributes):
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            took = time.monotonic() - started
            outcome = "ok" if error is None else _registry_outcome(error)
            if _ON:
                counters.stats.polls.add((service, outcome))
                counters.stats.reloads.observe((service,), took)
            message = None if error is None else f"{type(error).__name__}: {error}"[:300]
            hooks.emit(hooks.ReloadEvent(service, error is None, took, message, initial))


def _registry_outcome(exc: BaseException) -> str:
    from soajs.errors import ControlPlaneError, RegistryTimeoutError

    if isinstance(exc, RegistryTimeoutError):
        return "timeout"
    if isinstance(exc, ControlPlaneError):
        return "control_plane_error"
    return "error"


@contextmanager
def registration(service: str) -> Iterator[None]:
    """Around one ``POST /register``."""
    ok = False
    with tracing.span("soajs.registry.register", {"soajs.service": service}):
        try:
            yield
            ok = True
        finally:
            if _ON:
                counters.stats.registrations.add((service, "ok" if ok else "error"))


def breaker_changed(target: str, label: str, previous: str, state: str) -> None:
    """A breaker moved from ``previous`` to ``state``."""
    if previous == state:
        return
    if _ON:
        counters.stats.transitions.add((target, state.replace("-", "_")))
    hooks.emit(hooks.BreakerEvent(target, label, state, previous))
