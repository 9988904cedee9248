"""Process-wide state a test may leave behind, and how to reset it.

* circuit breakers (:data:`soajs.connector.breakers`): one per target
  ``host:port`` for the whole process, so one test's failures would open the
  circuit of the next test calling the same address;
* the connector's pooled HTTP clients (:mod:`soajs.connector.transport`):
  one per process (and one per event loop), keeping connections to servers
  a previous test stopped;
* the current request context (:func:`soajs.current_context`), in case a
  test set it by hand.

Parsed-context caches and the rate-limited reason log belong to each
middleware instance (its ``ContextResolver``): a fresh app per test has fresh
ones; for an app shared by several tests, :func:`reset_middleware` clears them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["reset_middleware", "reset_process_state"]


def reset_process_state() -> None:
    """Forget every circuit breaker and close the pooled connector clients."""
    from soajs.connector import breakers, transport

    breakers.reset()
    transport.close()


def reset_middleware(app: Any) -> int:
    """Clear the parsed-context cache and reason-log state of every SOAJS
    middleware found in ``app``'s middleware chain; returns how many were found.

    Walks ``.app`` / ``.wsgi_app`` / ``.middleware_stack`` links (Starlette,
    FastAPI, Flask, plain WSGI/ASGI wrappers).
    """
    seen: set[int] = set()
    found = 0
    stack = [app]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        core = getattr(node, "core", None)
        resolver = getattr(core, "resolver", None)
        if resolver is not None and hasattr(resolver, "cache"):
            resolver.cache.clear()
            log = getattr(resolver, "log_reason", None)
            state = getattr(log, "_state", None)
            if isinstance(state, dict):
                state.clear()
            found += 1
        for attr in ("app", "wsgi_app", "middleware_stack"):
            stack.append(getattr(node, attr, None))
    return found
