"""The examples' /tenant-data route: the key's config for the service and the tenant's
database name, through the real middleware and, for FastAPI and Flask, a real local
control plane serving examples/registry.json."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from soajs.controlplane import ControlPlaneServer
from soajs.testing import asgi_async_client, wsgi_client
from tests.conftest import SAMPLE_REGISTRY
from tests.integration.test_examples import RAW, USER, django_get, fastapi_get, flask_get

GREETING = {"greeting": "hello from key config", "limit": 5}


@pytest.fixture(autouse=True)
def _trusted_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOAJS_TRUSTED_GATEWAYS", "127.0.0.1")


@pytest.fixture
def control_plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    registry = tmp_path / "registry.json"
    registry.write_text(SAMPLE_REGISTRY.read_text())
    with ControlPlaneServer(registry) as plane:
        monkeypatch.setenv("SOAJS_REGISTRY_API", plane.address)
        monkeypatch.setenv("SOAJS_ENV", "dev")
        monkeypatch.setenv("SOAJS_RUNTIME_DIR", str(tmp_path))
        yield plane


def fastapi_started(path: str, header: bytes | None) -> tuple[int, Any]:
    """The FastAPI example with its registry started (the lifespan would start it)."""
    module = importlib.reload(importlib.import_module("examples.fastapi_app"))
    module.registry.start()
    try:

        async def call() -> Any:
            async with asgi_async_client(module.app, header) as client:
                return await client.get(path)

        response = asyncio.run(call())
    finally:
        module.registry.stop()
    return response.status_code, response.json()


def flask_started(path: str, header: bytes | None) -> tuple[int, Any]:
    """The Flask example (its registry starts on import), stopped after the call."""
    sys.modules.pop("examples.flask_app", None)  # imported afresh: one registry, stopped below
    module = importlib.import_module("examples.flask_app")
    try:
        response = wsgi_client(module.app, header).get(path)
    finally:
        module.app.extensions["soajs"].middleware.close()  # its maintenance listener
        module.registry.stop()
    return response.status_code, response.get_json()


@pytest.mark.parametrize("get", [fastapi_started, flask_started], ids=["fastapi", "flask"])
def test_tenant_data_with_a_registry(get: Any, control_plane: Any) -> None:
    status, body = get("/tenant-data", RAW)
    assert status == 200, body
    assert body["service_config"] == GREETING
    assert body["database"] == {"name": "TST1_orders", "kind": "tenant"}
    assert "password" not in json.dumps(body)
    status, body = get("/tenant-data", USER)  # another tenant, another database
    assert body["database"]["name"] == "TNT_orders"
    assert body["service_config"] == {}  # that key configures nothing for the service


@pytest.mark.parametrize(
    "get", [fastapi_get, flask_get, django_get], ids=["fastapi", "flask", "django"]
)
def test_tenant_data_without_a_registry(get: Any) -> None:
    status, body = get("/tenant-data", RAW)
    assert status == 200, body
    assert body["service_config"] == GREETING
    assert body["database"] is None and body["error"] == "RegistryNotLoadedError"
    status, body = get("/tenant-data", None)
    assert body == {"service_config": None, "database": None}
