"""Scenario 6: the gateway goes away for a while and comes back empty-handed.

Solo mode keeps registrations in memory only, so the restarted gateway knows
none of our services: they must notice, keep their last good registry in the
meantime, register again, and be routed to again, with no restart on our side.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from soajs import Config, RegistryManager
from tests.interop.rig import Gateway, Service, ext_key, free_port_pair, wait_until

pytestmark = pytest.mark.interop

OUTAGE = 3.0  # seconds: several poll periods (the profile asks for one a second)


def test_outage_then_reregistration_and_routing_again(
    make_gateway: Callable[..., Gateway], start_service: Callable[..., Service]
) -> None:
    gateway = make_gateway(auto_reload_ms=1000, health_check_ms=1000)
    gateway.start()
    service = start_service("fastapi", "outage", gateway=gateway)
    pid = service.process.pid
    # the library in-process too, to look inside: same settings the example uses
    port = free_port_pair()
    manager = RegistryManager(
        "hello",
        env_code="dev",
        config=Config(name="hello", group="Interop", port=port),
        registry_api=gateway.registry_api,
        deploy_manual=True,
        max_backoff=1.0,
    )
    client = httpx.Client(base_url=gateway.url, headers={"key": ext_key()}, timeout=5)
    try:

        def routed() -> bool:
            try:
                return client.get("/outage/v1/whoami").status_code == 200
            except httpx.TransportError:
                return False

        wait = 5 * gateway.health_check_ms / 1000 + 2
        assert wait_until(routed, timeout=wait, step=0.1)
        before = manager.registry

        gateway.stop()
        time.sleep(OUTAGE)
        # down: the last good registry stays, the failure is on record, the service answers
        assert manager.registry is before
        assert manager.last_error is not None
        assert httpx.get(f"{service.url}/heartbeat", timeout=2).status_code == 200

        gateway.start()  # same ports, fresh memory: nobody is registered
        restarted = time.monotonic()
        assert wait_until(lambda: bool(gateway.registered_hosts("hello")), timeout=30, step=0.2)
        assert wait_until(lambda: bool(gateway.registered_hosts("outage")), timeout=30, step=0.2), (
            service.process.log_tail()
        )
        assert wait_until(routed, timeout=wait, step=0.1)
        print(f"routed again {time.monotonic() - restarted:.1f}s after the restart")
        assert service.process.pid == pid  # no restart on our side
        assert manager.registry is not before
        assert manager.last_error is None
        assert "keeping the registry loaded at" in service.process.log_tail(200)
    finally:
        client.close()
        manager.stop()
