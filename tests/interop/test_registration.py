"""Scenario 2: a service registers itself (manual deploy) and the gateway starts routing to it."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.interop.rig import Gateway, Service, ext_key

pytestmark = pytest.mark.interop


def test_self_registration_then_health_check_then_routing(
    gateway: Gateway, start_service: Callable[..., Service]
) -> None:
    name = "selfreg"  # no other test uses it: the session gateway has never heard of it
    assert gateway.registered_hosts(name) == []  # nobody registered it by hand

    service = start_service("fastapi", name)  # returns once it answers /heartbeat
    started = time.monotonic()
    assert gateway.registered_hosts(name) == ["127.0.0.1"]
    entry = gateway.get_registry(name)["data"]["services"][name]
    assert entry["port"] == service.port

    seen: list[int] = []
    interval = gateway.health_check_ms / 1000
    deadline = started + 5 * interval + 2
    with httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=5) as client:
        while True:
            answer = client.get(f"/{name}/v1/whoami")
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            seen.append(answer.status_code)
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, (answer.status_code, answer.text, seen)
    assert answer.json()["tenant"]["code"] == "TST1"
    assert gateway.healthy(name) is True  # the gateway's own health check says so
    # "within a few health-check intervals" of the service being up
    assert elapsed <= 5 * interval + 2, elapsed
    print(f"first proxied 200 after {elapsed:.2f}s; refused before: {sorted(set(seen))}")
