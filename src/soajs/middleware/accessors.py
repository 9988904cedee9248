"""``get_soajs_context(obj)``: the context of a request, whatever the framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soajs.models.context import ContextData

__all__ = ["ENVIRON_KEY", "get_soajs_context"]

#: Where the WSGI middleware puts the context in the environ.
ENVIRON_KEY = "soajs.context"


def get_soajs_context(obj: Any) -> ContextData | None:
    """The SOAJS context of ``obj``, or ``None`` when it has none.

    ``obj`` may be a Starlette/FastAPI ``Request`` or ``WebSocket``, an ASGI
    scope, a Flask/werkzeug request, a WSGI environ, or a Django ``HttpRequest``.
    """
    if obj is None:
        return None
    found: Any = None
    if isinstance(obj, Mapping):
        # an ASGI scope or a WSGI environ
        found = obj.get("soajs", obj.get(ENVIRON_KEY))
    else:
        scope = getattr(obj, "scope", None)  # Starlette Request / WebSocket
        if isinstance(scope, Mapping):
            found = scope.get("soajs")
        if found is None:
            direct = getattr(obj, "soajs", None)  # Django HttpRequest
            if isinstance(direct, ContextData):
                return direct
            environ = getattr(obj, "environ", None)  # werkzeug / Flask request
            if environ is None:
                environ = getattr(obj, "META", None)  # Django's copy of the environ
            if isinstance(environ, Mapping):
                found = environ.get(ENVIRON_KEY)
    return found if isinstance(found, ContextData) else None
