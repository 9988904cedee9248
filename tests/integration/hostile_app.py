"""A Starlette app behind SOAJSMiddleware, for the memory test in a child process.

``/probe?read=1`` reads the whole context (a JSON dump freezes every lazily
frozen level): the worst case of what a cached context can come to hold.
``/rss`` answers the process's resident memory (``VmRSS``). ``app`` is ASGI
(uvicorn), ``wsgi_app`` the same for WSGI servers (gunicorn).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware, get_soajs_context


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def probe(request: Request) -> JSONResponse:
    ctx = get_soajs_context(request)
    read = ctx is not None and request.query_params.get("read") == "1"
    size = len(ctx.model_dump_json()) if read and ctx is not None else 0
    return JSONResponse({"tenant": None if ctx is None else ctx.tenant.id, "dumped": size})


async def rss(request: Request) -> JSONResponse:
    return JSONResponse({"rss_kib": _rss_kib()})


app = Starlette(routes=[Route("/probe", probe), Route("/rss", rss)])
app.add_middleware(SOAJSMiddleware, trusted_gateways="*", health=False, maintenance_listener=False)


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/rss":
        body: dict[str, Any] = {"rss_kib": _rss_kib()}
    else:
        ctx = get_soajs_context(environ)
        read = parse_qs(environ.get("QUERY_STRING", "")).get("read") == ["1"]
        size = len(ctx.model_dump_json()) if read and ctx is not None else 0
        body = {"tenant": None if ctx is None else ctx.tenant.id, "dumped": size}
    data = json.dumps(body).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


wsgi_app = SOAJSWSGIMiddleware(
    _wsgi, trusted_gateways="*", health=False, maintenance_listener=False
)
