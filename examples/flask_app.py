"""Flask example: ``flask --app examples.flask_app run --port 4381``.

Configured by the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from examples._service import make_registry, tenant_data, whoami
from soajs.contrib.flask import SOAJS
from soajs.response import SoajsError, build_response
from soajs.response.flask import install_handlers

registry = make_registry(autostart=True)
app = Flask(__name__)
SOAJS(app, registry=registry)


@app.get("/whoami")
def who() -> dict[str, Any]:
    return whoami(g.soajs)


# The SOAJS envelope (docs/tenant-data.md, Responses): {"result": true, "data": ...}, or
# {"result": false, "errors": {...}} with the code's message from the service's errors map.
ORDER_ERRORS = {400: "Order not found"}
ORDERS = {"7": {"id": 7, "item": "book"}}
install_handlers(app, ORDER_ERRORS)


@app.get("/orders/<order_id>")
def order(order_id: str) -> dict[str, Any]:
    if order_id not in ORDERS:
        raise SoajsError(400, status=404)
    return build_response(ORDERS[order_id])


@app.get("/tenant-data")
def tenant_data_route() -> dict[str, Any]:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return tenant_data(g.soajs)
