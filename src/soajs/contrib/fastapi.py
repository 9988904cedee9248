"""FastAPI helpers: the ``SoajsContext`` dependency and a one-call setup.

>>> app = FastAPI()                                          # doctest: +SKIP
>>> setup(app, registry=registry, trusted_gateways="10.0.0.0/8")
>>> @app.get("/whoami")
... async def whoami(ctx: SoajsContext): return {"tenant": ctx.tenant.code}

``require_context`` answers 401 with an RFC 7807 problem+json body when the
request has no context; :func:`setup` registers that answer. Used without
:func:`setup`, the 401 still happens, with FastAPI's ``{"detail": ...}`` body.
"""

from __future__ import annotations

from typing import Annotated, Any, Unpack

from fastapi import Depends, FastAPI, HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from soajs.middleware.accessors import get_soajs_context
from soajs.middleware.asgi import SOAJSMiddleware
from soajs.middleware.core import MiddlewareOptions, refusal
from soajs.middleware.problem import PROBLEM_CONTENT_TYPE, problem_body
from soajs.models.context import ContextData

__all__ = ["ContextRequired", "SoajsContext", "require_context", "setup"]

_DETAIL = "This endpoint needs a tenant context from the SOAJS gateway (soajsinjectobj)."


class ContextRequired(HTTPException):
    """Raised by :func:`require_context` when the request has no context."""

    def __init__(self) -> None:
        super().__init__(status_code=401, detail=_DETAIL)


def require_context(connection: HTTPConnection) -> ContextData:
    """FastAPI dependency: the request's context, or 401."""
    context = get_soajs_context(connection)
    if context is None:
        raise ContextRequired()
    return context


SoajsContext = Annotated[ContextData, Depends(require_context)]
"""``def handler(ctx: SoajsContext)``: the context, or a 401 problem+json."""


async def _problem(request: Request, exc: Exception) -> Response:
    return Response(
        problem_body(401, "SOAJS context required", _DETAIL),
        status_code=401,
        media_type=PROBLEM_CONTENT_TYPE,
    )


async def _envelope(request: Request, exc: Exception) -> Response:
    from soajs.middleware.core import STRICT_CODE
    from soajs.response.envelope import ENVELOPE_CONTENT_TYPE, dumps, error_envelope

    body = dumps(error_envelope([(STRICT_CODE, _DETAIL)]))
    return Response(body, status_code=401, media_type=ENVELOPE_CONTENT_TYPE)


def setup(app: FastAPI, registry: Any = None, **options: Unpack[MiddlewareOptions]) -> None:
    """Add :class:`SOAJSMiddleware` and the problem+json answer of :func:`require_context`
    (the SOAJS envelope, code 142, when ``response_format`` is ``"envelope"``)."""
    app.add_middleware(SOAJSMiddleware, registry=registry, **options)
    app.state.soajs_registry = registry  # the errors map of soajs.response's handlers
    envelope = refusal(registry, options.get("response_format"))[1] != PROBLEM_CONTENT_TYPE
    app.add_exception_handler(ContextRequired, _envelope if envelope else _problem)
