"""``hostile_app``'s Starlette app with the middleware's defaults: ``trusted_gateways``
unset, so any client that reaches the service has its header parsed and cached."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware
from tests.integration.hostile_app import probe, rss

app = Starlette(routes=[Route("/probe", probe), Route("/rss", rss)])
app.add_middleware(SOAJSMiddleware, health=False, maintenance_listener=False)
