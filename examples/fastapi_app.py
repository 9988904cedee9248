"""FastAPI example: ``uvicorn examples.fastapi_app:app --port 4381``.

Configured by the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from examples._service import make_registry, tenant_data, whoami
from soajs.contrib.fastapi import SoajsContext, setup
from soajs.middleware import get_soajs_context
from soajs.response import SoajsError, build_response
from soajs.response.starlette import install_handlers

registry = make_registry(autostart=False)  # started and stopped with the app's lifespan
app = FastAPI(title="soajs-python FastAPI example")
setup(app, registry=registry)


@app.get("/whoami")
async def who(request: Request) -> dict[str, Any]:
    return whoami(get_soajs_context(request))


@app.get("/private")
async def private(context: SoajsContext) -> dict[str, Any]:
    """Needs a context: 401 problem+json without one."""
    return whoami(context)


# The SOAJS envelope (docs/tenant-data.md, Responses): {"result": true, "data": ...}, or
# {"result": false, "errors": {...}} with the code's message from the service's errors map.
ORDER_ERRORS = {400: "Order not found"}
ORDERS = {"7": {"id": 7, "item": "book"}}
install_handlers(app, ORDER_ERRORS)


@app.get("/orders/{order_id}")
async def order(order_id: str) -> dict[str, Any]:
    if order_id not in ORDERS:
        raise SoajsError(400, status=404)
    return build_response(ORDERS[order_id])


@app.get("/tenant-data")
async def tenant_data_route(request: Request) -> dict[str, Any]:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return tenant_data(get_soajs_context(request))
