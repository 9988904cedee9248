"""The two apps of the end-to-end benchmark (``benchmarks.bench_middleware --e2e``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


bare = Starlette(routes=[Route("/", hello)])
soajs = Starlette(routes=[Route("/", hello)])
soajs.add_middleware(SOAJSMiddleware, trusted_gateways="*", health=False)
