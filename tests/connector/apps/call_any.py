"""A service whose view calls ``svc`` with the request's own context, as a SOAJS
service does: an anonymous client (``trusted_gateways`` ``*``) names the mesh
target and the gateway. ``/stats`` says how many breakers the process holds.
WARNING lines of ``soajs`` go to stderr, one per line, prefixed ``LOG``.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.connector import ConnectorError, RetryPolicy, ServiceConnector, breakers
from soajs.middleware import SOAJSMiddleware

logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(levelname)s %(message)s")


def call(request: Request) -> JSONResponse:
    try:
        answer = ServiceConnector(retry=RetryPolicy(attempts=1), deadline=2).get(
            "svc", "/x", version="1"
        )
        out: object = answer.status_code
    except ConnectorError as exc:
        out = type(exc).__name__
    return JSONResponse({"out": out})


def stats(request: Request) -> JSONResponse:
    return JSONResponse({"breakers": len(breakers.snapshot())})


app = Starlette(routes=[Route("/call", call), Route("/stats", stats)])
app.add_middleware(SOAJSMiddleware, trusted_gateways="*", health=False, maintenance_listener=False)
