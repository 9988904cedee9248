"""Flask example: ``flask --app examples.flask_app run --port 4381``.

Configured by the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from examples._service import make_registry, tenant_data, whoami
from soajs.contrib.flask import SOAJS

registry = make_registry(autostart=True)
app = Flask(__name__)
SOAJS(app, registry=registry)


@app.get("/whoami")
def who() -> dict[str, Any]:
    return whoami(g.soajs)


@app.get("/tenant-data")
def tenant_data_route() -> dict[str, Any]:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return tenant_data(g.soajs)
