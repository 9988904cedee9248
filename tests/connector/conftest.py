"""Connector test fixtures: contexts built from real header bytes, clean pools and breakers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from soajs.connector import breakers
from soajs.connector.propagation import _INBOUND
from soajs.connector.routing import _TABLES
from soajs.context import parse_inject_header
from soajs.models import ContextData
from tests.connector.loopback import Loopback

E_KEY = "ekey-of-tenant-one"


def inject_object(awareness: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "tenant": {"id": "t1", "code": "TST1", "name": "Tenant Ünë"},
        "key": {"iKey": "ikey", "eKey": E_KEY, "config": {}},
        "application": {"product": "P", "package": "P_B", "appId": "a1"},
        "urac": {"_id": "u1", "username": "owner"},
    }
    if awareness is not None:
        obj["awareness"] = awareness
    return obj


def make_context(awareness: dict[str, Any] | None) -> ContextData:
    """A context exactly as the middleware builds it: parsed from bytes, bound to them."""
    raw = json.dumps(inject_object(awareness), ensure_ascii=False).encode()
    result = parse_inject_header([raw], 65536)
    assert result.context is not None, result
    return result.context.bind(None, raw)


def awareness(gateway: str | None, *mesh: tuple[str, str, str, str]) -> dict[str, Any]:
    """``awareness("127.0.0.1:4000", ("b", "1", "127.0.0.1:4381", "1"))``."""
    data: dict[str, Any] = {}
    if gateway is not None:
        host, port = gateway.rsplit(":", 1)
        data.update(host=host, port=int(port))
    data["interConnect"] = [
        {
            "name": name,
            "version": version,
            "host": where.rsplit(":", 1)[0],
            "port": int(where.rsplit(":", 1)[1]),
            "latest": latest,
        }
        for name, version, where, latest in mesh
    ]
    return data


@pytest.fixture(autouse=True)
def _fresh_connector_state(soajs_isolated: None) -> Iterator[None]:
    """Every test starts with no breakers and no pooled clients, and leaves none
    (the soajs pytest plugin's ``soajs_isolated``, loaded by its entry point)."""
    token = _INBOUND.set(None)
    yield
    _INBOUND.reset(token)
    breakers.clock = __import__("time").monotonic
    _TABLES.clear()


@pytest.fixture
def servers() -> Iterator[Callable[..., Loopback]]:
    """Start loopback servers; all are stopped at teardown."""
    started: list[Loopback] = []

    def start(*args: Any, **kwargs: Any) -> Loopback:
        server = Loopback(*args, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    fake = FakeClock()
    breakers.clock = fake
    return fake
