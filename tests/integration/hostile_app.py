"""A Starlette app behind SOAJSMiddleware, for the memory test in a child process.

``/probe?read=1`` reads the whole context (a JSON dump freezes every lazily
frozen level): the worst case of what a cached context can come to hold.
``/rss`` answers the process's resident memory (``VmRSS``).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, get_soajs_context


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
