"""FastAPI example: ``uvicorn examples.fastapi_app:app --port 4381``.

Configured by the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from examples._service import make_registry, tenant_data, whoami
from soajs.contrib.fastapi import SoajsContext, setup
from soajs.middleware import get_soajs_context

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


@app.get("/tenant-data")
async def tenant_data_route(request: Request) -> dict[str, Any]:
    """The key's config for this service and the tenant's database name (docs: Tenant data)."""
    return tenant_data(get_soajs_context(request))
