"""Routing, as a table: request context (or registry awareness) -> Connection."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from soajs.connector import NoRouteError, ServiceConnector
from soajs.connector.propagation import inbound
from soajs.connector.routing import _TABLES, INJECT_HEADER, normalize_version
from soajs.context.current import reset_context, set_context
from soajs.models.registry import Awareness
from tests.connector.conftest import E_KEY, awareness, make_context

GW = "10.0.0.1:4000"
B1 = ("b", "1", "10.0.0.5:4381", "2")
B2 = ("b", "2", "10.0.0.6:4382", "2")
C1 = ("c", "1", "10.0.0.7:4383", "3")  # latest is 3, which is not in the mesh


@pytest.mark.parametrize(
    ("aware", "name", "version", "mode", "host"),
    [
        pytest.param(awareness(GW, B1, B2), "b", "1", "mesh", "10.0.0.5:4381", id="mesh-v1"),
        pytest.param(awareness(GW, B1, B2), "b", "2", "mesh", "10.0.0.6:4382", id="mesh-v2"),
        pytest.param(awareness(GW, B1, B2), "b", 1, "mesh", "10.0.0.5:4381", id="int-version"),
        pytest.param(awareness(GW, B1, B2), "b", "1.0", "mesh", "10.0.0.5:4381", id="v1.0-is-v1"),
        pytest.param(awareness(GW, B1, B2), "b", None, "mesh", "10.0.0.6:4382", id="latest"),
        pytest.param(
            awareness(GW, B1, B2), "b", "3", "gateway", "10.0.0.1:4000/b/v3", id="unknown-version"
        ),
        pytest.param(
            awareness(GW, C1), "c", None, "gateway", "10.0.0.1:4000/c", id="latest-not-in-mesh"
        ),
        pytest.param(
            awareness(GW, B1), "other", "1", "gateway", "10.0.0.1:4000/other/v1", id="not-in-mesh"
        ),
        pytest.param(
            awareness(GW, B1), "other", None, "gateway", "10.0.0.1:4000/other", id="no-version"
        ),
        pytest.param(
            awareness(GW), "b", "1.2", "gateway", "10.0.0.1:4000/b/v1.2", id="empty-mesh-minor"
        ),
        pytest.param(
            awareness(None, B1), "b", "1", "mesh", "10.0.0.5:4381", id="mesh-without-gateway"
        ),
    ],
)
def test_route(aware: dict[str, Any], name: str, version: Any, mode: str, host: str) -> None:
    context = make_context(aware)
    connection = ServiceConnector(context).connect(name, version=version)
    assert (connection.mode, connection.host) == (mode, host)
    assert connection.base_url == f"http://{host}"
    headers = connection.headers
    if mode == "mesh":
        # the exact bytes the gateway sent, unchanged (non-ASCII included)
        assert headers.raw == [(INJECT_HEADER, context.raw_header)]
        assert "key" not in headers
    else:
        assert INJECT_HEADER.decode() not in headers
        assert headers["key"] == E_KEY


@pytest.mark.parametrize(
    ("aware", "name", "version", "why"),
    [
        pytest.param(None, "b", "1", "no awareness.interConnect entries", id="no-awareness"),
        pytest.param(
            awareness(None, B1), "b", "7", "it has: b v1", id="missing-version-no-gateway"
        ),
        pytest.param(awareness(None), "x", None, "no gateway address", id="empty-awareness"),
    ],
)
def test_no_route(aware: dict[str, Any] | None, name: str, version: str | None, why: str) -> None:
    connector = ServiceConnector(make_context(aware))
    with pytest.raises(NoRouteError, match=why) as info:
        connector.connect(name, version)
    assert f"service {name!r}" in str(info.value)
    assert info.value.service == name


def test_the_seed_usage_reaches_the_gateway_route() -> None:
    connection = ServiceConnector(make_context(awareness(GW))).connect("auth-service", version="1")
    assert f"http://{connection.host}/endpoint" == "http://10.0.0.1:4000/auth-service/v1/endpoint"


def test_mesh_route_carries_its_gateway_fallback() -> None:
    connection = ServiceConnector(make_context(awareness(GW, B1))).connect("b", "1")
    assert connection.fallback is not None
    assert connection.fallback.mode == "gateway"
    assert connection.fallback.host == "10.0.0.1:4000/b/v1"
    assert "key" in connection.fallback.headers


def test_current_context_is_used_when_none_is_given() -> None:
    token = set_context(make_context(awareness(GW, B1)))
    try:
        assert ServiceConnector().connect("b", "1").mode == "mesh"
    finally:
        reset_context(token)


class _Registry:
    def __init__(self, aware: Awareness | None) -> None:
        self.awareness = aware


@pytest.mark.parametrize(
    ("registry", "tenant_key", "host", "why"),
    [
        pytest.param(
            _Registry(Awareness(host="10.9.9.9", port=4000)),
            "bg-key",
            "10.9.9.9:4000/b/v1",
            None,
            id="background-job",
        ),
        pytest.param(None, "bg-key", None, "pass registry=", id="background-no-registry"),
        pytest.param(
            _Registry(Awareness(host="10.9.9.9", port=4000)),
            None,
            None,
            "pass tenant_key=",
            id="background-no-key",
        ),
        pytest.param(_Registry(None), "k", None, "no gateway host", id="background-no-awareness"),
        pytest.param(
            _Registry(Awareness(host="10.9.9.9")), "k", None, "no gateway host", id="no-port"
        ),
    ],
)
def test_background_job(
    registry: _Registry | None, tenant_key: str | None, host: str | None, why: str | None
) -> None:
    connector = ServiceConnector(registry=registry, tenant_key=tenant_key)
    if why is not None:
        with pytest.raises(NoRouteError, match=why):
            connector.connect("b", "1")
        return
    connection = connector.connect("b", "1")
    assert (connection.mode, connection.host) == ("gateway", host)
    assert connection.headers["key"] == tenant_key
    assert INJECT_HEADER.decode() not in connection.headers


class _NotLoaded:
    @property
    def awareness(self) -> Awareness | None:
        raise RuntimeError("registry not loaded yet")


def test_background_job_before_the_registry_loaded() -> None:
    with pytest.raises(NoRouteError, match="no gateway address yet"):
        ServiceConnector(registry=_NotLoaded(), tenant_key="k").connect("b")


def test_background_job_follows_a_registry_reload() -> None:
    registry = _Registry(Awareness(host="10.9.9.9", port=4000))
    connector = ServiceConnector(registry=registry, tenant_key="k")
    assert connector.connect("b").host == "10.9.9.9:4000/b"
    registry.awareness = Awareness(host="10.8.8.8", port=4000)
    assert connector.connect("b").host == "10.8.8.8:4000/b"


# -- what the inbound request adds --------------------------------------------

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


@pytest.mark.parametrize(
    ("headers", "query", "gateway_headers"),
    [
        pytest.param({}, "", {}, id="nothing"),
        pytest.param({"access_token": "hdr"}, "", {"access_token": "hdr"}, id="token-header"),
        # sent on as a header: a URL's query string ends up in logs
        pytest.param({}, "a=1&access_token=qry", {"access_token": "qry"}, id="token-query"),
        pytest.param(
            {"access_token": "hdr"}, "access_token=qry", {"access_token": "qry"}, id="query-wins"
        ),
        pytest.param(
            {"Authorization": "Bearer abc"}, "", {"authorization": "Bearer abc"}, id="authz"
        ),
        pytest.param(
            {"Authorization": "Bearer abc", "access_token": "hdr"},
            "",
            {"access_token": "hdr"},
            id="token-before-authorization",
        ),
        pytest.param(
            {**TRACE, "tracestate": "a=b", "X-Request-ID": "r-1"},
            "",
            {**TRACE, "tracestate": "a=b", "x-request-id": "r-1"},
            id="trace",
        ),
    ],
)
def test_inbound_request(
    headers: dict[str, str], query: str, gateway_headers: dict[str, str]
) -> None:
    connector = ServiceConnector(make_context(awareness(GW, B1)))
    trace = {k.lower(): v for k, v in headers.items() if k.lower() in TRACE_NAMES}
    with inbound(headers, query=query):
        gateway = connector.connect("other", "1")
        mesh = connector.connect("b", "1")
    assert dict(gateway.headers) == {"key": E_KEY, **gateway_headers}
    # mesh calls carry the trace, never the caller's credentials
    assert dict(mesh.headers) == {"soajsinjectobj": mesh.headers["soajsinjectobj"], **trace}
    assert mesh.fallback is not None
    assert dict(mesh.fallback.headers) == {"key": E_KEY, **gateway_headers}
    # outside the block, nothing is carried over
    assert dict(connector.connect("other", "1").headers) == {"key": E_KEY}


TRACE_NAMES = {"traceparent", "tracestate", "x-request-id"}


def test_the_current_request_is_carried_over_asgi_and_wsgi() -> None:
    """The middlewares make (context, scope/environ) current; calls read the request from it."""
    context = make_context(awareness(GW))
    connector = ServiceConnector()
    scope = {
        "type": "http",
        "headers": [(b"traceparent", b"tp"), (b"authorization", b"Bearer z"), (b"x", b"y")],
        "query_string": b"",
    }
    token = set_context(context, scope)
    try:
        assert dict(connector.connect("a").headers) == {
            "key": E_KEY,
            "traceparent": "tp",
            "authorization": "Bearer z",
        }
    finally:
        reset_context(token)
    environ = {"HTTP_X_REQUEST_ID": "r-9", "QUERY_STRING": "access_token=q"}
    token = set_context(context, environ)
    try:
        connection = connector.connect("a")
        assert dict(connection.headers) == {
            "key": E_KEY,
            "x-request-id": "r-9",
            "access_token": "q",
        }
    finally:
        reset_context(token)
    # after the request: nothing is carried over any more
    assert dict(ServiceConnector(context).connect("a").headers) == {"key": E_KEY}


def test_a_call_for_another_requests_context_does_not_carry_this_requests_user() -> None:
    mine, other = make_context(awareness(GW)), make_context(awareness(GW))
    scope = {"type": "http", "headers": [(b"authorization", b"Bearer mine")], "query_string": b""}
    token = set_context(mine, scope)
    try:
        assert "authorization" in ServiceConnector().connect("a").headers
        assert "authorization" in ServiceConnector(mine).connect("a").headers
        assert "authorization" not in ServiceConnector(other).connect("a").headers
    finally:
        reset_context(token)


def test_routes_are_built_once_per_context_and_dropped_with_it() -> None:
    context = make_context(awareness(GW, B1))
    connector = ServiceConnector(context)
    assert connector.connect("b", "1") is ServiceConnector(context).connect("b", "1")
    assert id(context) in _TABLES
    key = id(context)
    del context, connector
    gc.collect()
    assert key not in _TABLES


def test_repr_shows_no_headers() -> None:
    connection = ServiceConnector(make_context(awareness(GW))).connect("b")
    assert E_KEY not in repr(connection)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param(1, "1", id="int"),
        pytest.param("1.0", "1", id="dot-zero"),
        pytest.param("v2", "2", id="v-prefix"),
        pytest.param("1.5", "1.5", id="minor"),
        pytest.param("", None, id="empty"),
    ],
)
def test_normalize_version(given: object, expected: str | None) -> None:
    assert normalize_version(given) == expected
