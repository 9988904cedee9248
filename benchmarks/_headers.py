"""Realistic ``soajsinjectobj`` headers of a given size, shaped as the gateway builds them.

The shape is PROTOCOL.md's (and the real gateway 4.3.4 capture's): a tenant
with its profile, the key with ``config`` (common fields plus this service's
entry), the application and its package ACL (per service, per version, per
method, per API group), a logged-in ``urac`` with groups, ACL and config,
``awareness`` with ``interConnect`` entries, ``device``, ``geo`` and ``param``.

Two ways to reach a size:

* ``spread``: the bulk grows in every part at once: urac groups and ACL,
  interConnect entries, key config, package ACL, tenant profile (a 60 KB
  header is about 700 groups, 250 interConnect entries and the ACL of 30
  services, as the issue measured);
* ``typed``: the bulk is all in the parts the context types: interConnect
  entries (up to the 256 the parser accepts) and urac groups.

``nonce`` changes a few bytes (a user id, a device): distinct headers of one
shape, as a gateway sends for distinct users.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SHAPES", "gateway_header"]

_EKEY = (
    "28df214c0987773dbaa24b18937e7c8a425fca71f1484697b7677aef9b99c69cf80fac2d368d5fded817fc8d"
    "f6ab0530c3ae7a71b119d92f155544fe1542475d9a3b82f52c2fba053ba1f60877b96c9de07899e18e9a98"
)


def _service_acl(name: str, apis: int) -> dict[str, Any]:
    group = {f"/{name}/item/{i}": {"access": i % 3 == 0} for i in range(apis)}
    methods: dict[str, Any] = {"get": [{"group": "Read", "apis": group}]}
    if apis > 1:
        methods["post"] = [{"group": "Write", "apis": {f"/{name}/item": {"access": True}}}]
    return {"1": {"access": False, "apisPermission": "restricted", **methods}}


def _interconnect(i: int) -> dict[str, Any]:
    return {
        "name": f"service-{i}",
        "version": "1",
        "host": f"10.0.{i // 250}.{i % 250 + 1}",
        "port": 4000 + i,
        "latest": "1" if i % 4 else "2",
    }


def _build(scale: int, groups: int, interconnect: int, nonce: int) -> dict[str, Any]:
    """The header with ``scale`` units of bulk in the free-form parts."""
    services = [f"svc{i}" for i in range(scale)]
    return {
        "tenant": {
            "id": "5f0a1b2c3d4e5f6a7b8c9d01",
            "name": "Test Tenant One",
            "code": "TST1",
            "locked": False,
            "type": "product",
            "main": {"id": "5f0a1b2c3d4e5f6a7b8c9d00", "code": "MAIN"},
            "profile": {
                "plan": "gold",
                "region": "local",
                "features": {f"feature{i}": {"enabled": i % 2 == 0} for i in range(scale * 3)},
            },
        },
        "key": {
            "config": {
                "mail": {"from": "me@localhost"},
                "hello": {"greeting": "hello from key config", "limit": 5},
                **{s: {"apiKey": f"k-{s}-0123456789", "limits": [10, 100]} for s in services},
            },
            "iKey": "0123456789abcdef0123456789abcdef",
            "eKey": _EKEY,
        },
        "application": {
            "product": "HELLO",
            "package": "HELLO_BASIC",
            "appId": "5f0a1b2c3d4e5f6a7b8c9d02",
            "acl": None,
            "acl_all_env": None,
        },
        "package": {
            "acl": {"hello": _service_acl("hello", 2), **{s: _service_acl(s, 6) for s in services}},
            "acl_all_env": {"dev": {"hello": _service_acl("hello", 1)}},
        },
        "device": f"Mozilla/5.0 (X11; Linux x86_64) bench/{nonce:010d}",
        "geo": {"ip": f"10.1.{nonce // 250 % 250}.{nonce % 250 + 1}"},
        "urac": {
            "_id": f"5f0a1b2c3d4e5f6a7b8c{nonce:04x}"[-24:],
            "username": f"user{nonce}",
            "firstName": "Zo%C3%AB",
            "lastName": "Doe",
            "email": f"user{nonce}@example.com",
            "groups": [f"group-{i}" for i in range(groups)],
            "tenant": {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1"},
            "profile": {"lang": "en"},
            "acl": {s: _service_acl(s, 1) for s in ["hello", *services[: scale // 2]]},
            "groupsConfig": {"allowedPackages": {"HELLO": ["HELLO_BASIC"]}},
        },
        "awareness": {
            "host": "127.0.0.1",
            "port": 4000,
            "interConnect": [_interconnect(i) for i in range(interconnect)],
        },
        "param": {"urac_Profile": True, "urac_ACL": True},
    }


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def gateway_header(size: int, shape: str = "spread", nonce: int = 0) -> bytes:
    """A header of about ``size`` bytes (at least the minimal realistic one)."""
    if shape == "spread":
        # grow every part together: per unit of scale, 22 urac groups, 8
        # interConnect entries, a service in key config and package ACL, half
        # a one in urac ACL, 3 tenant profile features
        def build(scale: int) -> bytes:
            return _encode(_build(scale, 4 + 22 * scale, min(256, 6 + 8 * scale), nonce))

        scale = 0
        while len(build(scale + 1)) <= size:
            scale += 1
        return build(scale)
    if shape == "typed":
        interconnect, groups = 6, 4
        while True:
            data = _build(0, groups, interconnect, nonce)
            if len(_encode(data)) >= size:
                return _encode(data)
            if interconnect < 256:
                interconnect = min(256, interconnect + 8)
            else:
                groups += 20
    raise ValueError(f"unknown shape {shape!r}")


SHAPES = ("spread", "typed")
