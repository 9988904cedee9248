"""The apps of the end-to-end benchmark (``benchmarks.bench_middleware --e2e``).

``bare``: no middleware; ``jsonloads``: a middleware that only ``json.loads``
the header (the baseline); ``soajs``: ``SOAJSMiddleware`` with its defaults
(the context cache on, as in production), trusting any peer; ``soajs_listed``:
the same trusting only the listed gateway (127.0.0.1, where the load comes from).
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def hello_context(request: Request) -> PlainTextResponse:
    """``no`` when the middleware built no context: the benchmark then fails, rather
    than timing requests whose header was refused."""
    return PlainTextResponse("ok" if request.scope.get("soajs") is not None else "no")


class JsonOnlyMiddleware:
    """The baseline: a middleware that only ``json.loads`` the header."""

    def __init__(self, app: Any, loads: Any = json.loads) -> None:
        self.app = app
        self.loads = loads

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"soajsinjectobj":
                    scope["soajs"] = self.loads(value)
        await self.app(scope, receive, send)


bare = Starlette(routes=[Route("/", hello)])
jsonloads = Starlette(routes=[Route("/", hello)])
jsonloads.add_middleware(JsonOnlyMiddleware)
soajs = Starlette(routes=[Route("/", hello_context)])
soajs.add_middleware(SOAJSMiddleware, trusted_gateways="*", health=False)
soajs_listed = Starlette(routes=[Route("/", hello_context)])
soajs_listed.add_middleware(SOAJSMiddleware, trusted_gateways="127.0.0.1", health=False)
