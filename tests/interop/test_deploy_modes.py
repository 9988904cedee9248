"""Scenario 7: deployment modes against the real gateway (soajs.controller 4.3.4).

* host auto-register (no SOAJS_DEPLOY_MANUAL): the service registers itself
  (``mw: false``) and is routed;
* its apiList reaches the gateway: with ``mw: true`` (manual deployment) the
  gateway hands it to its marketplace model, read back here (preload.js, point 4);
  with ``mw: false`` the gateway stores no apiList (as for a Node service);
* two controller hosts, two real gateways (127.0.0.1 and 127.0.0.2, same ports,
  the second registered as a controller host of the first): both receive the
  registration and both route to the service;
* SOAJS_DEPLOY_HA=kubernetes: nothing is registered, the service starts and serves.
  (The gateway itself cannot run in HA here: its awareness needs a Kubernetes API.
  Our side of HA is tested against the HA gateway's recorded ``/register`` answer,
  ``result: false``, in tests/deploy/test_modes.py.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.interop.rig import CAPTURES, Gateway, Service, ext_key, wait_until

pytestmark = pytest.mark.interop

HOST_MODE = {"SOAJS_DEPLOY_MANUAL": ""}  # unset: the host registers itself (mw: false)


def routed(gateway: Gateway, name: str, timeout: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=5) as client:
        while True:
            answer = client.get(f"/{name}/v1/whoami")
            if answer.status_code == 200 or time.monotonic() > deadline:
                return answer
            time.sleep(0.1)


def test_a_service_without_manual_deployment_registers_itself_and_is_routed(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    name = "autoreg"
    assert gateway.registered_hosts(name) == []
    start_service("fastapi", name, extra_env=HOST_MODE)
    assert wait_until(lambda: gateway.registered_hosts(name) == ["127.0.0.1"], timeout=10)
    answer = routed(gateway, name)
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant"]["code"] == "TST1"
    # mw false: the gateway lists the host but keeps nothing in its marketplace
    assert not [s for s in gateway.marketplace() if s.get("name") == name]


def test_the_api_list_reaches_the_gateway_marketplace(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    name = "apilisted"
    start_service("flask", name)  # manual deployment (mw: true), Flask's url_map

    def stored() -> dict[str, Any] | None:
        found = [s for s in gateway.marketplace() if s.get("name") == name]
        return found[0] if found else None

    def with_apis() -> bool:
        entry = stored()
        return bool(entry and any(v.get("apis") for v in entry.get("versions", [])))

    assert wait_until(with_apis, timeout=10), gateway.marketplace()
    entry = stored()
    assert entry is not None
    (version,) = [v for v in entry["versions"] if v["version"] == "1"]
    assert {"l": "who", "v": "/whoami", "m": "get"} in version["apis"]
    assert entry["configuration"]["port"] > 0 and entry["configuration"]["group"] == "Examples"


def test_two_controller_hosts_both_receive_the_registration(
    gateway_controller: Any,
    make_gateway: Callable[..., Gateway],
    start_service: Callable[..., Service],
) -> None:
    first = make_gateway().start()
    second = make_gateway(host="127.0.0.2", port=first.port).start()
    first.add_controller(second)
    hosts = first.get_registry("twoctl")["data"]["services"]["controller"]["hosts"]
    assert sorted(hosts["1"]) == ["127.0.0.1", "127.0.0.2"]

    name = "twoctl"
    start_service("fastapi", name, gateway=first, extra_env=HOST_MODE)
    assert wait_until(lambda: first.registered_hosts(name) == ["127.0.0.1"], timeout=10)
    assert wait_until(lambda: second.registered_hosts(name) == ["127.0.0.1"], timeout=10)
    for gw in (first, second):
        answer = routed(gw, name)
        assert answer.status_code == 200, (gw.host, answer.text)


def test_the_real_ha_gateway_refuses_register_so_ha_must_not_register(
    make_gateway: Callable[..., Gateway],
) -> None:
    """Why HA registers nothing: an HA gateway answers ``/register`` with ``result: false``
    (the start failure of the issue). Its /getRegistry needs a Kubernetes deployer and
    crashes it here, so only /register is asked."""
    from soajs.errors import ControlPlaneError
    from soajs.registry.client import RegistryClient

    ha = make_gateway()
    ha.process.env["SOAJS_DEPLOY_HA"] = "kubernetes"
    ha.start()
    body = {"name": "hamode", "group": "g", "port": 4381, "ip": "127.0.0.1", "type": "service",
            "version": "1", "mw": True}  # fmt: skip
    with (
        RegistryClient(f"http://{ha.registry_api}", timeout=5) as client,
        pytest.raises(ControlPlaneError),
    ):
        client.register(body)
    answer = httpx.post(f"http://{ha.registry_api}/register", json=body, timeout=5)
    recorded = json.loads((CAPTURES / "ha_register_answer.json").read_text())
    assert answer.status_code == recorded["status"]
    assert {k: v for k, v in answer.json().items() if k != "ts"} == {
        k: v for k, v in recorded["body"].items() if k != "ts"
    }


def test_ha_registers_nothing_and_the_service_still_serves(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    name = "hamode"
    service = start_service(
        "fastapi", name, extra_env={"SOAJS_DEPLOY_HA": "kubernetes", "SOAJS_DEPLOY_MANUAL": "1"}
    )
    # it loaded its registry from the gateway and serves; 2 health-check rounds later
    # the gateway still knows no host of it
    answer = httpx.get(f"{service.url}/whoami", timeout=5)
    assert answer.status_code == 200
    assert httpx.get(f"http://127.0.0.1:{service.maintenance_port}/heartbeat", timeout=5).json()[
        "result"
    ]
    time.sleep(2 * gateway.health_check_ms / 1000 + 0.5)
    assert gateway.registered_hosts(name) == []
    assert service.process.alive()
