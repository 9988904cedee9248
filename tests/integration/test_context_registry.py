"""A cached context never pins an old registry, and never crosses tenants."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSMiddleware, get_soajs_context
from tests.support import write_json

SEEN: list[Any] = []


async def handler(request: Request) -> JSONResponse:
    ctx = get_soajs_context(request)
    SEEN.append(ctx)
    registry = None if ctx is None else ctx.registry
    greeting = None if registry is None else registry.custom["greeting"].value["text"]
    return JSONResponse({"tenant": ctx and ctx.tenant.code, "greeting": greeting})


def header(code: str) -> bytes:
    return json.dumps({"tenant": {"id": f"id-{code}", "code": code}}).encode()


def call(app: Any, value: bytes) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/", headers=[(b"soajsinjectobj", value)])
            return dict(response.json())

    return asyncio.run(run())


def test_a_cached_context_reaches_the_registry_loaded_last(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Callable[..., RegistryManager],
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    app = Starlette(routes=[Route("/", handler)])
    app.add_middleware(SOAJSMiddleware, registry=manager, trusted_gateways="*")
    SEEN.clear()
    assert call(app, header("T1")) == {"tenant": "T1", "greeting": "hello from the registry"}
    registry_data["custom"]["greeting"]["value"]["text"] = "after reload"
    write_json(registry_file, registry_data)
    manager.reload()
    assert call(app, header("T1")) == {"tenant": "T1", "greeting": "after reload"}
    assert SEEN[0] is SEEN[1]  # the same cached context, yet the current registry


def test_cache_hits_never_cross_tenants_and_cache_off_still_works() -> None:
    for cache_size in (1024, 0):
        app = Starlette(routes=[Route("/", handler)])
        app.add_middleware(SOAJSMiddleware, trusted_gateways="*", cache_size=cache_size)
        for _ in range(3):
            for code in ("A", "B", "C"):
                assert call(app, header(code))["tenant"] == code
