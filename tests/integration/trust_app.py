"""A Starlette app behind SOAJSMiddleware that says what it saw, for trust tests
run under real servers in child processes (uvicorn's and gunicorn's own
defaults, which only a separate process shows: ``FORWARDED_ALLOW_IPS`` and
friends are read at start-up).

``SOAJS_TRUSTED_GATEWAYS`` and ``SOAJS_TRUSTED_PROXY_HOPS`` configure it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, get_soajs_context


async def who(request: Request) -> JSONResponse:
    ctx = get_soajs_context(request)
    client = request.scope.get("client")
    return JSONResponse(
        {
            "tenant": None if ctx is None else ctx.tenant.id,
            "header_seen": "soajsinjectobj" in request.headers,
            "client": list(client) if client else None,
        }
    )


app = Starlette(routes=[Route("/who", who)])
app.add_middleware(SOAJSMiddleware, health=False, maintenance_listener=False)
