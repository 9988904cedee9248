"""``apiList`` from a Starlette or FastAPI route table (see :mod:`soajs.apilist`)."""

from __future__ import annotations

import logging
from typing import Any

from soajs.apilist.common import MAX_DEPTH, ApiEntry, Collector, label_of

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
    _walk(app.routes, "", collector, 0)
    return collector.result(logger, type(app).__name__)


def _walk(routes: list[Any], prefix: str, collector: Collector, depth: int) -> None:
    if depth >= MAX_DEPTH:
        return
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a Mount (or a Host): walk a routed sub-app, skip static files
            sub = getattr(route, "routes", None)
            if isinstance(sub, list) and sub:
                _walk(sub, prefix + path.rstrip("/"), collector, depth + 1)
            continue
        if getattr(route, "include_in_schema", True) is False:
            continue  # /docs, /openapi.json, /redoc and routes hidden on purpose
        endpoint = getattr(route, "endpoint", None)
        tags = getattr(route, "tags", None) or []
        group = tags[0] if tags and isinstance(tags[0], str) else None
        label = label_of(getattr(route, "summary", None), endpoint, getattr(route, "name", None))
        collector.add(prefix + path, methods, label, group)
