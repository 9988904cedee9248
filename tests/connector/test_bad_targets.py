"""Odd addresses in a context the parser accepts never end in a raw Python error.

Red team (weirdroute.py): ``awareness.port`` or an interConnect ``port`` of 25+
digits raised a raw ``OverflowError`` from ``getaddrinfo``; a host IDNA cannot
encode (``a..b``, a 64+ character label) a raw ``UnicodeError``; a control
character a raw ``httpx.InvalidURL``. Now:

* ports are checked (1..65535) where routes are built: a bad mesh entry is
  skipped (the call goes through the gateway), a bad gateway port is a
  :class:`NoRouteError` saying so;
* whatever the transport still raises as OverflowError / ValueError /
  UnicodeError / InvalidURL is an :class:`InvalidCallError` (a
  ConnectorError), after failing over from a mesh target to the gateway.

Real loopback servers; sync and async twins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from soajs.connector import ConnectorError, InvalidCallError, NoRouteError, ServiceConnector
from soajs.models.registry import Awareness
from tests.connector.conftest import make_context
from tests.connector.loopback import Loopback
from tests.connector.twins import KINDS, caller

HUGE = int("9" * 25)
# (a JSON ``true`` port is read as 1 by the context model: only a registry object can hold it)
BAD_PORTS = [HUGE, int("9" * 400), 0, -1, 65536, 70000]


def mesh_entry(host: str, port: Any) -> dict[str, Any]:
    return {"name": "svc", "version": "1", "host": host, "port": port, "latest": "1"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("port", BAD_PORTS, ids=str)
def test_a_mesh_entry_with_a_bad_port_is_skipped_for_the_gateway(
    kind: str, port: Any, servers: Callable[..., Loopback]
) -> None:
    gateway = servers("gateway")
    ctx = make_context(
        {"host": "127.0.0.1", "port": gateway.port, "interConnect": [mesh_entry("127.0.0.1", port)]}
    )
    assert ServiceConnector(ctx).connect("svc", "1").mode == "gateway"
    answer = caller(kind, ctx)("svc", "/x", version="1")
    assert answer.status_code == 200
    assert [r.path for r in gateway.requests] == ["/svc/v1/x"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("port", BAD_PORTS, ids=str)
def test_a_bad_gateway_port_is_no_route(kind: str, port: Any) -> None:
    ctx = make_context({"host": "127.0.0.1", "port": port})
    with pytest.raises(NoRouteError, match=r"awareness\.port .* not a port \(1\.\.65535\)") as info:
        caller(kind, ctx)("svc", "/x", version="1")
    assert len(str(info.value)) < 400  # a 400-digit port is not copied into the message


@pytest.mark.parametrize("port", [*BAD_PORTS, True, "80"], ids=str)
def test_a_background_job_with_a_bad_gateway_port_is_no_route(port: Any) -> None:
    class Registry:
        awareness = Awareness.model_construct(host="127.0.0.1", port=port)

    with pytest.raises(NoRouteError, match=r"not a port \(1\.\.65535\)"):
        ServiceConnector(registry=Registry(), tenant_key="k").get("svc", "/x")


UNUSABLE_HOSTS = ["a..b", "x" * 300, "a\x00b", "é" * 70]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", UNUSABLE_HOSTS, ids=lambda h: repr(h)[:12])
def test_an_unusable_mesh_host_fails_over_to_the_gateway(
    kind: str, host: str, servers: Callable[..., Loopback]
) -> None:
    gateway = servers("gateway")
    ctx = make_context(
        {"host": "127.0.0.1", "port": gateway.port, "interConnect": [mesh_entry(host, 4000)]}
    )
    answer = caller(kind, ctx)("svc", "/x", version="1")
    assert answer.status_code == 200
    assert [r.path for r in gateway.requests] == ["/svc/v1/x"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", UNUSABLE_HOSTS, ids=lambda h: repr(h)[:12])
def test_an_unusable_gateway_host_is_a_connector_error(kind: str, host: str) -> None:
    ctx = make_context({"host": host, "port": 4000})
    with pytest.raises(ConnectorError) as info:
        caller(kind, ctx)("svc", "/x", version="1")
    assert info.value.service == "svc"
    assert "gateway" in str(info.value)
    # anyio's resolver reports an IDNA failure as a ConnectError (ServiceUnavailableError);
    # httpx's sync one and URL building raise ValueErrors: InvalidCallError
    if kind == "sync" or "\x00" in host:
        assert isinstance(info.value, InvalidCallError)
        assert isinstance(info.value, ValueError)  # code that caught ValueError still does
