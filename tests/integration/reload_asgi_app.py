"""An ASGI service for the SIGTERM test (run by ``uvicorn`` in a child process)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs import RegistryManager
from soajs.middleware import SOAJSMiddleware

registry = RegistryManager("hello", broadcast=False)


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"ping": True})


app = SOAJSMiddleware(
    Starlette(routes=[Route("/ping", ping)]), registry=registry, trusted_gateways="*"
)
