"""A service that calls another one: ``uvicorn examples.mesh_app:app --port 4390``.

The demo runs it twice over: as service ``a`` (which calls ``b`` from
``/call-b``) and as two instances of service ``b`` (which answer
``/whoami`` with the tenant they saw and ``DEMO_INSTANCE``). Configured by
the SOAJS_* environment variables alone (see examples/_service.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from examples._service import make_registry, whoami
from soajs.connector import AsyncServiceConnector, RetryPolicy, aclose
from soajs.contrib.fastapi import setup
from soajs.middleware import get_soajs_context


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await aclose()  # the connector's pooled client of this event loop


registry = make_registry(autostart=False)
app = FastAPI(title="soajs-python mesh example", lifespan=lifespan)
setup(app, registry=registry)


@app.get("/whoami")
async def who(request: Request) -> dict[str, Any]:
    return {"instance": os.environ.get("DEMO_INSTANCE", "?"), **whoami(get_soajs_context(request))}


@app.get("/call-b")
async def call_b(request: Request) -> dict[str, Any]:
    """Call service b v1: mesh-direct when the request's awareness lists it, else the gateway."""
    connector = AsyncServiceConnector(
        get_soajs_context(request), retry=RetryPolicy(attempts=2, backoff=0.05)
    )
    planned = connector.connect("b", version="1")
    answer = await connector.get("b", "/whoami", version="1")
    return {
        "planned": {"mode": planned.mode, "host": planned.host},
        "answered_via": "gateway" if "x-soajs-gateway" in answer.headers else "mesh",
        "status": answer.status_code,
        "b": answer.json(),
    }
