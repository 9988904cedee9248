"""Scenario 4: a forged soajsinjectobj is ignored, through the gateway and straight to the service.

Each refusal comes with its control, so the test cannot pass for the wrong reason:
the gateway really does pass a client's header through to a public service (seen
by a bare echo service), and the forged header really is well formed (a trusted
peer gets it believed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from soajs import Config, RegistryManager
from tests.interop.rig import ROOT, Gateway, Service, ext_key, free_port_pair, wait_until

pytestmark = pytest.mark.interop


def forged_header() -> str:
    """The real header the gateway once built, with another tenant: well formed, but forged."""
    raw = (ROOT / "tests/fixtures/gateway-4.3.4/soajsinjectobj_raw.txt").read_text()
    data = json.loads(raw)
    data["tenant"].update(id="000000000000000000000bad", code="FORGED", name="Forged Tenant")
    return json.dumps(data, separators=(",", ":"))


def get_when_routed(
    client: httpx.Client, path: str, timeout: float, **kwargs: Any
) -> httpx.Response:
    answers: list[httpx.Response] = []

    def routed() -> bool:
        answers.append(client.get(path, **kwargs))
        return answers[-1].status_code == 200

    assert wait_until(routed, timeout=timeout, step=0.1), (
        answers[-1].status_code,
        answers[-1].text,
    )
    return answers[-1]


@pytest.fixture
def echo_service(gateway: Gateway) -> Iterator[str]:
    """A bare public service (no soajs middleware) that answers with the headers it got."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = free_port_pair()
    server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    config = Config(name="echopublic", group="Interop", port=port, extKeyRequired=False)
    manager = RegistryManager(
        "echopublic",
        env_code="dev",
        config=config,
        registry_api=gateway.registry_api,
        deploy_manual=True,
        auto_reload=False,
    )
    try:
        yield "echopublic"
    finally:
        manager.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_forged_header_through_the_gateway_to_a_public_service(
    gateway: Gateway, start_service: Callable[..., Service], echo_service: str
) -> None:
    forged = forged_header()
    start_service("fastapi", "hellopublic", ext_key_required=False)
    timeout = 5 * gateway.health_check_ms / 1000 + 2
    # 4.3.4 cannot proxy a request that has no key at all, even to a public service
    # (it copies an undefined "key" header; Node refuses it): an empty ?key= or the
    # tenant's real key gets through. Both carry the forgery.
    ways = {"empty key": ("?key=", {}), "tenant key": ("", {"key": ext_key()})}
    with httpx.Client(base_url=gateway.url, timeout=5) as client:
        for what, (query, headers) in ways.items():
            headers = {**headers, "soajsinjectobj": forged}
            # control: the gateway passes the client's header through unchanged and
            # builds none of its own, even with a valid key
            seen = get_when_routed(
                client, f"/{echo_service}/v1/x{query}", timeout, headers=headers
            ).json()
            assert seen["soajsinjectobj"] == forged, what

            # our public service ignores it
            answer = get_when_routed(
                client, f"/hellopublic/v1/whoami{query}", timeout, headers=headers
            )
            assert answer.json()["tenant"] is None, what

        keyless = client.get(f"/{echo_service}/v1/x", headers={"soajsinjectobj": forged})
        assert keyless.status_code == 503
        assert keyless.json()["errors"]["codes"] == [135]


def test_forged_header_to_a_private_service_through_the_gateway_is_replaced(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    """With a key, the gateway builds its own header: the client's forgery never arrives."""
    start_service("fastapi", "hellofastapi")
    with httpx.Client(base_url=gateway.url, timeout=5) as client:
        answer = get_when_routed(
            client,
            "/hellofastapi/v1/whoami",
            5 * gateway.health_check_ms / 1000 + 2,
            headers={"soajsinjectobj": forged_header(), "key": ext_key()},
        )
    assert answer.json()["tenant"]["code"] == "TST1"


def test_forged_header_straight_from_an_untrusted_address(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    """Trusted gateway: 127.0.0.1 only. The forger calls from 127.0.0.2 (also loopback)."""
    service = start_service("fastapi", "hellofastapi", trusted_gateways="127.0.0.1/32")
    headers = {"soajsinjectobj": forged_header()}
    untrusted = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=untrusted, timeout=5) as client:
        answer = client.get(f"{service.url}/whoami", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["tenant"] is None

    # control: the same header from the trusted address is believed (it is well formed)
    answer = httpx.get(f"{service.url}/whoami", headers=headers, timeout=5)
    assert answer.json()["tenant"]["code"] == "FORGED"
