"""Registries for tests: a minimal ``getRegistry`` answer built from keyword arguments.

``make_registry_data()`` is the shape gateway 4.3.4 serves for one service
(``services`` holds the controller and that service; ``awareness`` says where
the gateway is), small enough to read in a test. Feed it to
``soajs.RegistryManager.from_dict`` (no network) or to the plugin's
``soajs_control_plane`` fixture (a real local control plane).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["make_database", "make_registry_data"]


def make_database(
    name: str = "main",
    *,
    host: str = "127.0.0.1",
    port: int = 27017,
    username: str = "test",
    password: str = "test-password",  # noqa: S107 - a test fixture's value
    cluster: str = "local_cluster",
    env: str = "dev",
) -> dict[str, Any]:
    """One ``coreDB`` entry (``credentials`` are secrets: masked in every repr)."""
    return {
        "name": name,
        "prefix": "",
        "cluster": cluster,
        "servers": [{"host": host, "port": port}],
        "credentials": {"username": username, "password": password},
        "streaming": {},
        "URLParam": {},
        "extraParam": {},
        "registryLocation": {"l1": "coreDB", "l2": name, "env": env, "cluster": cluster},
    }


def make_registry_data(
    *,
    env: str = "dev",
    service: str = "hello",
    service_port: int = 4381,
    gateway_host: str | None = "127.0.0.1",
    gateway_port: int = 4000,
    maintenance_inc: int = 1000,
    auto_reload_ms: int = 3_600_000,
    health_check_ms: int = 5000,
    databases: Mapping[str, Mapping[str, Any]] | None = None,
    custom: Mapping[str, Any] | None = None,
    services: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A registry as ``GET /getRegistry?env=ENV&serviceName=SERVICE`` answers it.

    ``databases`` defaults to one ``main`` database; ``custom`` maps a name to
    its ``value`` (wrapped in the gateway's custom-entry shape); ``services``
    adds entries beside ``controller`` and ``service``.
    """
    dbs = {"main": make_database(env=env)} if databases is None else dict(databases)
    entries: dict[str, Any] = {
        "controller": {
            "group": "Gateway",
            "port": gateway_port,
            "maxPoolSize": 100,
            "authorization": True,
            "requestTimeout": 30,
            "requestTimeoutRenewal": 0,
            "hosts": {"1": [gateway_host or "127.0.0.1"], "latest": "1"},
        },
        service: {"group": "Tests", "port": service_port},
    }
    entries.update({name: dict(entry) for name, entry in (services or {}).items()})
    return {
        "name": env,
        "environment": env,
        "domain": "localhost",
        "coreDB": {name: dict(db) for name, db in dbs.items()},
        "tenantMetaDB": {},
        "serviceConfig": {
            "awareness": {
                "cacheTTL": 3_600_000,
                "healthCheckInterval": health_check_ms,
                "autoRelaodRegistry": auto_reload_ms,
                "maxLogCount": 5,
                "autoRegisterService": True,
            },
            "key": {"algorithm": "aes256", "password": "test-key-password"},
            "ports": {
                "controller": gateway_port,
                "maintenanceInc": maintenance_inc,
                "randomInc": 100,
            },
        },
        "custom": {
            name: {"name": name, "locked": False, "plugged": True, "shared": True, "value": value}
            for name, value in (custom or {}).items()
        },
        "resources": {},
        "services": entries,
        "awareness": {"host": gateway_host, "port": gateway_port},
    }
