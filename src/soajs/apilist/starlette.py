"""``apiList`` from a Starlette or FastAPI route table (see :mod:`soajs.apilist`)."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from soajs.apilist.common import MAX_DEPTH, MAX_ENTRIES, ApiEntry, Collector, label_of

__all__ = ["discover", "has_routes"]

logger = logging.getLogger("soajs.apilist")


def has_routes(app: Any) -> bool:
    """A Starlette/FastAPI app or router (it has a ``routes`` list)."""
    try:
        routes = app.routes
    except Exception:
        return False
    return isinstance(routes, list)


def discover(app: Any) -> list[ApiEntry]:
    collector = Collector()
    if not _from_openapi(app, collector):
        _walk(app.routes, "", collector, 0)
    return collector.result(logger, type(app).__name__)


def _from_openapi(app: Any, collector: Collector, prefix: str = "", depth: int = 0) -> bool:
    """FastAPI: its OpenAPI schema is the public view of its routes (included routers
    too), with the summary FastAPI derives and the tags. False when not FastAPI."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi) or not hasattr(app, "openapi_url"):
        return False
    # A cached schema (older FastAPI, or the documented custom ``app.openapi`` that returns
    # ``app.openapi_schema`` once set) misses routes added since: build it afresh for this
    # read; the cache is put back only when the build left none.
    cached = getattr(app, "openapi_schema", None)
    try:
        if cached is not None:
            app.openapi_schema = None
        schema = openapi()
        paths = schema.get("paths") or {}
    except Exception as exc:  # a schema FastAPI cannot build: walk the table instead
        logger.debug("apiList: the OpenAPI schema failed (%s), walking the routes", exc)
        return False
    finally:
        if cached is not None and getattr(app, "openapi_schema", None) is None:
            app.openapi_schema = cached
    for path, operations in list(paths.items()):
        if not isinstance(path, str) or not isinstance(operations, dict):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            tags = operation.get("tags") or []
            group = tags[0] if tags and isinstance(tags[0], str) else None
            label = label_of(operation.get("summary"), None, operation.get("operationId"))
            collector.add(prefix + path, [method], label, group)
    # mounted sub-apps are not in the schema: walk the mounts only
    _walk([r for r in app.routes if getattr(r, "methods", None) is None and
           hasattr(r, "routes")], prefix, collector, depth + 1)  # fmt: skip
    return True


def _walk(routes: list[Any], prefix: str, collector: Collector, depth: int) -> None:
    if depth >= MAX_DEPTH:
        return
    for route in routes:
        path = getattr(route, "path", None)
        expand = getattr(route, "effective_route_contexts", None)
        if path is None and callable(expand):
            # FastAPI >= 0.13x keeps an included router as one lazy entry: its routes,
            # with their full paths, summaries and tags, are its "effective contexts"
            try:
                contexts = list(itertools.islice(expand(), 4 * MAX_ENTRIES))
            except Exception as exc:
                logger.debug("apiList: an included router could not be read (%s)", exc)
                continue
            _walk(contexts, prefix, collector, depth + 1)
            continue
        if not isinstance(path, str):
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a Mount (or a Host): walk a routed sub-app, skip static files
            sub_prefix = prefix + path.rstrip("/")
            if _from_openapi(getattr(route, "app", None), collector, sub_prefix, depth + 1):
                continue
            sub = getattr(route, "routes", None)
            if isinstance(sub, list) and sub:
                _walk(sub, sub_prefix, collector, depth + 1)
            continue
        if getattr(route, "include_in_schema", True) is False:
            continue  # /docs, /openapi.json, /redoc and routes hidden on purpose
        endpoint = getattr(route, "endpoint", None)
        tags = getattr(route, "tags", None) or []
        group = tags[0] if tags and isinstance(tags[0], str) else None
        summary = getattr(route, "summary", None)
        name = getattr(route, "name", None)
        if summary is None and _is_fastapi_route(route) and isinstance(name, str):
            summary = name.replace("_", " ").title()  # the summary FastAPI's schema shows
        label = label_of(summary, endpoint, name)
        collector.add(prefix + path, methods, label, group)


def _is_fastapi_route(route: Any) -> bool:
    """A FastAPI ``APIRoute`` (reached through the router the middleware wraps)."""
    return type(route).__module__.startswith("fastapi.") and hasattr(route, "response_model")
