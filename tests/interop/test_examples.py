"""Scenario 3: a keyed request through the real gateway reaches each example for real.

Each example runs in its own process with its real server (uvicorn, werkzeug,
Django's runserver), configured by SOAJS_* variables alone, registered by itself.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.interop.rig import Gateway, Service, ext_key, load_rig_json, wait_until

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("kind", "name"),
    [("fastapi", "hellofastapi"), ("flask", "helloflask"), ("django", "hellodjango")],
)
def test_whoami_through_the_gateway(
    gateway: Gateway, start_service: Callable[..., Service], kind: str, name: str
) -> None:
    start_service(kind, name)
    tenant = load_rig_json("provision.json")["tenants"][0]
    application = tenant["applications"][0]

    with httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=5) as client:
        answers: list[httpx.Response] = []

        def routed() -> bool:
            answers.append(client.get(f"/{name}/v1/whoami"))
            return answers[-1].status_code == 200

        assert wait_until(routed, timeout=5 * gateway.health_check_ms / 1000 + 2, step=0.1), (
            answers[-1].status_code,
            answers[-1].text,
        )
    body = answers[-1].json()
    assert body["tenant"] == {"id": tenant["_id"], "code": "TST1", "name": tenant["name"]}
    assert body["application"] == {
        "product": application["product"],
        "package": application["package"],
    }
    assert body["user"] is None  # no one logged in


def test_without_a_key_the_gateway_stops_the_request(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    """The gateway, not our service, refuses a keyless call to a private service (code 132)."""
    name = "hellofastapi"
    start_service("fastapi", name)
    answer = httpx.get(f"{gateway.url}/{name}/v1/whoami", timeout=5)
    assert answer.status_code == 403
    assert answer.json()["errors"]["codes"] == [132]
