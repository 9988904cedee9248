"""The connector demo's pieces: the mesh example app and the gateway stand-in.

``examples/mesh_app.py`` is called in-process (ASGI transport) with a real
context whose interConnect points at a loopback ``b``; the gateway stand-in
runs against a real local control plane with two registered ``b`` hosts.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from soajs.connector import transport
from soajs.controlplane import ControlPlaneServer
from tests.conftest import SAMPLE_REGISTRY
from tests.connector.conftest import awareness, inject_object
from tests.connector.loopback import Loopback
from tests.support import free_port

Servers = Callable[..., Loopback]


def call_a(header: bytes) -> dict[str, Any]:
    module = importlib.import_module("examples.mesh_app")

    async def call() -> httpx.Response:
        try:
            asgi = httpx.ASGITransport(app=module.app)
            async with httpx.AsyncClient(transport=asgi, base_url="http://a") as client:
                return await client.get("/call-b", headers=[(b"soajsinjectobj", header)])
        finally:
            await transport.aclose()

    answer = asyncio.run(call())
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_mesh_app_calls_b_mesh_direct(servers: Servers) -> None:
    b = servers("b")
    header = json.dumps(
        inject_object(awareness("127.0.0.1:1", ("b", "1", b.address, "1")))
    ).encode()
    result = call_a(header)
    assert result["planned"] == {"mode": "mesh", "host": b.address}
    assert result["answered_via"] == "mesh"
    (seen,) = b.requests
    assert seen.headers["soajsinjectobj"].encode("latin-1") == header


def test_mesh_app_fails_over_to_the_gateway(servers: Servers) -> None:
    gateway = servers("gateway")
    dead = f"127.0.0.1:{free_port()}"
    header = json.dumps(inject_object(awareness(gateway.address, ("b", "1", dead, "1")))).encode()
    result = call_a(header)
    assert result["planned"]["mode"] == "mesh"
    assert result["b"]["server"] == "gateway"
    (seen,) = gateway.requests
    assert seen.path == "/b/v1/whoami"
    assert "soajsinjectobj" not in seen.headers


def test_gateway_standin_routes_and_reinjects(tmp_path: Path, servers: Servers) -> None:
    from examples.gateway_standin import GatewayStandIn

    registry = tmp_path / "registry.json"
    registry.write_text(SAMPLE_REGISTRY.read_text())
    b1, b2 = servers("b-1"), servers("b-2")
    with ControlPlaneServer(registry) as plane:
        for server in (b1, b2):  # one service, two hosts (ports differ on loopback)
            body = {"name": "b", "group": "g", "port": server.port, "ip": "127.0.0.1",
                    "version": "1", "type": "service", "mw": True}  # fmt: skip
            httpx.post(f"{plane.url}/register", json=body).raise_for_status()
        gateway = GatewayStandIn(plane.address, source_ip="127.0.0.1").start()
        try:
            url = f"http://{gateway.address}/b/v1/whoami?x=1"
            refused = httpx.get(url)
            forged = [(b"soajsinjectobj", b'{"tenant":{"id":"FORGED"}}')]
            answer = httpx.get(url, headers=[(b"key", gateway.e_key.encode()), *forged])
        finally:
            gateway.stop()
    assert refused.status_code == 403  # no tenant key
    assert answer.status_code == 200
    assert answer.headers["x-soajs-gateway"] == "standin"
    # one port per service in the registration: the last one registered wins
    (seen,) = b2.requests
    assert seen.path == "/whoami" and seen.query == {"x": "1"}
    injected = json.loads(seen.headers["soajsinjectobj"].encode("latin-1"))
    assert injected["tenant"]["id"] != "FORGED"
    assert injected["awareness"]["port"] == gateway.port
    assert injected["awareness"]["interConnect"][0]["name"] == "b"
    assert b1.requests == []
