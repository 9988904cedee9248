"""Process-wide state a test may leave behind, and how to reset it.

* circuit breakers (``soajs.connector.breakers``): one per target
  ``host:port`` for the whole process, so one test's failures would open the
  circuit of the next test calling the same address;
* the connector's pooled HTTP clients (``soajs.connector.transport``):
  one per process (and one per event loop), keeping connections to servers
  a previous test stopped;
* the current request context (``soajs.current_context``), in case a
  test set it by hand.

Parsed-context caches and the rate-limited reason log belong to each
middleware instance (its ``ContextResolver``): a fresh app per test has fresh
ones; for an app shared by several tests, ``reset_middleware`` clears them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["reset_middleware", "reset_process_state"]


# the attributes linking a layer to the next one (Starlette, Flask, Django, asgiref)
_LINKS = (
    "app",
    "wsgi_app",
    "middleware_stack",
    "_middleware_chain",
    "__wrapped__",
    "get_response",
    "func",
    "awaitable",
)


def reset_process_state() -> None:
    """Forget every circuit breaker and close the pooled connector clients."""
    from soajs.connector import breakers, transport

    breakers.reset()
    transport.close()


def reset_middleware(app: Any) -> int:
    """Clear the parsed-context cache and reason-log state of every SOAJS
    middleware found in ``app``'s middleware chain; returns how many were found.

    Walks ``.app`` / ``.wsgi_app`` / ``.middleware_stack`` links (Starlette,
    FastAPI, Flask, plain WSGI/ASGI wrappers), and Django's chain: a
    ``WSGIHandler`` or ``ASGIHandler``'s ``_middleware_chain``, each layer's
    ``__wrapped__`` / ``get_response``, and asgiref's sync/async adapters
    (``func`` / ``awaitable``).
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
        # functools.wraps (Django's exception wrapper) copies ``core`` onto the wrapper:
        # count each resolver once
        if resolver is not None and hasattr(resolver, "cache") and id(resolver) not in seen:
            seen.add(id(resolver))
            resolver.cache.clear()
            log = getattr(resolver, "log_reason", None)
            state = getattr(log, "_state", None)
            if isinstance(state, dict):
                state.clear()
            found += 1
        for attr in _LINKS:
            stack.append(getattr(node, attr, None))
    return found
