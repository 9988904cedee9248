"""Scenario 5: mesh. A caller with interConnect to a callee calls it with the ServiceConnector.

The callee runs twice, on 127.0.0.1 and 127.0.0.2 with the same port (the gateway
keeps one port per service and a list of host IPs). The gateway's injected header
names one of them in the caller's ``awareness.interConnect``: the call goes there
directly, carrying the caller's header, so the callee sees the same tenant. Then
that instance is stopped and, with the same (now stale) request context, the next
call cannot reach it: it fails over to the gateway route, which the gateway sends
to the instance still up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.rig import Gateway, Service, ext_key, free_port_pair, wait_until

pytestmark = pytest.mark.interop

MESH_APP = "tests.interop.apps.mesh_app:app"


def test_mesh_call_then_failover_to_the_gateway(
    gateway: Gateway, start_service: Callable[..., Service], tmp_path: Path
) -> None:
    timeout = 5 * gateway.health_check_ms / 1000 + 2
    port = free_port_pair(gateway.maintenance_inc)
    callees = {
        host: start_service(
            "fastapi",
            "meshcallee",
            app=MESH_APP,
            host=host,
            port=port,
            trusted_gateways="127.0.0.0/8",  # the gateway, and the caller on the mesh
        )
        for host in ("127.0.0.1", "127.0.0.2")
    }
    start_service("fastapi", "meshcaller", app=MESH_APP, inter_connect="meshcallee:1")
    tenant_id = "5f0a1b2c3d4e5f6a7b8c9d01"

    with httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=20) as client:
        assert wait_until(
            lambda: client.get("/meshcaller/v1/whoami").status_code == 200, timeout, 0.1
        )
        assert wait_until(
            lambda: gateway.host_health("meshcallee") == {h: True for h in callees}, timeout, 0.1
        ), gateway.host_health("meshcallee")

        # 1. mesh-direct, same tenant
        answer = client.get("/meshcaller/v1/call/meshcallee")
        assert answer.status_code == 200, answer.text
        first = answer.json()["first"]
        assert first["planned"] == "mesh"
        assert first["status"] == 200
        assert first["callee"]["via"] == "mesh"
        assert first["callee"]["tenant"]["id"] == tenant_id

        # 2. the mesh target goes down mid-request: fail over to the gateway route
        result: dict[str, Any] = {}

        def in_flight() -> None:
            result["answer"] = client.get(
                "/meshcaller/v1/call/meshcallee", params={"handshake": str(tmp_path)}
            )

        thread = threading.Thread(target=in_flight)
        thread.start()
        try:
            assert wait_until((tmp_path / "first.json").exists, timeout=15)
            first = json.loads((tmp_path / "first.json").read_text())
            assert first["callee"]["via"] == "mesh"
            down = first["callee"]["instance"]
            callees[down].stop()
            # wait until the gateway knows, so its route goes to the other instance
            assert wait_until(
                lambda: gateway.host_health("meshcallee").get(down) is False, timeout, 0.1
            )
        finally:
            (tmp_path / "go").touch()
            thread.join(30)
    answer = result["answer"]
    assert answer.status_code == 200, answer.text
    second = answer.json()["second"]
    assert second["planned"] == "mesh"  # the stale context still names the stopped instance
    assert second["status"] == 200
    assert second["callee"]["via"] == "gateway"
    assert second["callee"]["instance"] != down
    assert second["callee"]["tenant"]["id"] == tenant_id
