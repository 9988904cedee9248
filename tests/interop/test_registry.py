"""Scenario 1: our RegistryManager against the real gateway's /getRegistry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from soajs import Config, RegistryManager
from soajs.models import Registry
from tests.interop.rig import Gateway, free_port_pair, wait_until

pytestmark = pytest.mark.interop


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of JSON data by its dotted path (empty containers are leaves)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(leaves(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list | tuple) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(leaves(item, f"{path}[{i}]"))
        return out
    return {path: value}


def test_manager_loads_and_reloads_the_real_registry(gateway: Gateway) -> None:
    port = free_port_pair()
    config = Config(name="hello", group="Interop", port=port, version="1", extKeyRequired=True)
    manager = RegistryManager(
        "hello",
        env_code="dev",
        config=config,
        registry_api=gateway.registry_api,
        deploy_manual=True,  # registers itself first, as a service would at start
        auto_reload=False,
    )
    try:
        registry = manager.registry
        raw: dict[str, Any] = gateway.get_registry("hello")["data"]

        # What a service needs from it
        assert registry.environment == "dev"
        assert registry.service_config.ports.maintenance_inc == gateway.maintenance_inc
        assert registry.auto_reload_ms == gateway.auto_reload_ms  # read from 'autoRelaodRegistry'
        assert manager.get_service("controller").port == gateway.port
        hello = manager.get_service("hello")
        assert hello.port == port
        assert manager.get_database("hello_core").cluster == "local_cluster"
        assert manager.get_custom("helloCustom").value["greeting"] == "hi from registry custom"
        assert manager.get_resource("local_cluster", "cluster").category == "mongo"
        assert manager.awareness is not None
        assert manager.awareness.port == gateway.port

        # The models accept everything the gateway sends and keep it: every leaf of the
        # raw answer is in the dump, with the same value (4.3.4's misspelt key renamed).
        # (Validated here from the same answer: the gateway's health stats move between calls.)
        dumped = leaves(
            Registry.model_validate(raw).model_dump(
                mode="json", exclude_unset=True, context={"reveal_secrets": True}
            )
        )
        for path, value in leaves(raw).items():
            path = path.replace("autoRelaodRegistry", "autoReloadRegistry")
            assert path in dumped, f"{path} lost by the models"
            assert dumped[path] == value or str(dumped[path]) == str(value), path

        # Reload: a new snapshot, published whole
        first_loaded = manager.last_loaded_at
        reloaded = manager.reload()
        assert reloaded is not registry
        assert manager.registry is reloaded
        assert manager.last_loaded_at is not None and first_loaded is not None
        assert manager.last_loaded_at >= first_loaded
        assert reloaded.services["hello"].port == port
    finally:
        manager.stop()


def test_registry_of_an_unregistered_service(gateway: Gateway) -> None:
    """Solo 4.3.4 answers for a service it does not know: ``controller`` only."""
    manager = RegistryManager(
        "nosuchservice", env_code="dev", registry_api=gateway.registry_api, auto_reload=False
    )
    try:
        assert "nosuchservice" not in manager.registry.services
        assert "controller" in manager.registry.services
    finally:
        manager.stop()


def test_awareness_host_is_null_until_the_gateway_has_checked_itself(
    make_gateway: Callable[..., Gateway],
) -> None:
    """Right after a start, 4.3.4 answers ``awareness: {host: null, port}``.

    Its first self health check fails (it probes itself before its maintenance
    port listens), so it has no healthy host of its own for one interval. A
    service that loads its registry then (at start, or re-registering after an
    outage) gets no gateway host until its next reload.
    """
    gateway = make_gateway(health_check_ms=1000)
    gateway.start()
    manager = RegistryManager(
        "nosuchservice", env_code="dev", registry_api=gateway.registry_api, auto_reload=False
    )
    try:
        assert manager.awareness is not None
        assert manager.awareness.host is None
        assert manager.awareness.port == gateway.port

        def host_known() -> bool:
            awareness = manager.reload().awareness
            return awareness is not None and awareness.host == "127.0.0.1"

        assert wait_until(host_known, timeout=3 * gateway.health_check_ms / 1000 + 2, step=0.2)
    finally:
        manager.stop()
