"""No SOAJS credential reaches a redirect target on another origin (real servers, two addresses).

Finding 3 of issue 12: with ``follow_redirects=True`` a cross-host 307 sent
``soajsinjectobj`` (iKey, eKey, the user) on a mesh call, and the tenant's
``key`` and the user's ``access_token`` on a gateway call, to the foreign
host. The foreign host here listens on 127.0.0.2 and records what it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from soajs.connector import (
    AsyncServiceConnector,
    ServiceConnector,
    ServiceUnavailableError,
    inbound,
    transport,
)
from tests.connector.conftest import E_KEY, awareness, make_context
from tests.connector.loopback import Loopback, redirect, status
from tests.connector.twins import KINDS, caller

Servers = Callable[..., Loopback]
SECRETS = ("soajsinjectobj", "key", "access_token", "authorization", "cookie")


def foreign(servers: Servers) -> Loopback:
    return servers("foreign", host="127.0.0.2")


@pytest.mark.parametrize("kind", KINDS)
def test_mesh_call_redirected_to_another_host_loses_the_inject_header(
    servers: Servers, kind: str
) -> None:
    evil = foreign(servers)
    callee = servers("b", default=redirect(f"http://{evil.address}/landing"))
    context = make_context(awareness(None, ("b", "1", callee.address, "1")))
    with inbound({"traceparent": "00-tt-ss-01"}):
        answer = caller(kind, context)("b", "/x", version="1", follow_redirects=True)
    assert answer.json()["server"] == "foreign"
    assert "soajsinjectobj" in callee.requests[0].headers  # the callee itself got it
    (seen,) = evil.requests
    assert not [name for name in SECRETS if name in seen.headers], seen.headers
    assert seen.headers["traceparent"] == "00-tt-ss-01"  # not a secret: the trace goes on
    assert seen.headers["host"] == evil.address


@pytest.mark.parametrize("kind", KINDS)
def test_gateway_call_redirected_to_another_host_loses_key_and_tokens(
    servers: Servers, kind: str
) -> None:
    evil = foreign(servers)
    gateway = servers("gateway", default=redirect(f"http://{evil.address}/landing", 307))
    call = caller(kind, make_context(awareness(gateway.address)))
    with inbound({"Authorization": "Bearer user-token"}, query="access_token=tok"):
        call("b", "/x", method="POST", json={"a": 1}, follow_redirects=True,
             headers={"Cookie": "sid=s3cret"}, auth=("u", "p"))  # fmt: skip
    first = gateway.requests[0].headers
    assert first["key"] == E_KEY and first["access_token"] == "tok"
    (seen,) = evil.requests
    assert seen.method == "POST" and seen.body == b'{"a":1}'  # a 307 keeps method and body
    assert not [name for name in SECRETS if name in seen.headers], seen.headers
    assert E_KEY not in str(seen.raw_headers) and "s3cret" not in str(seen.raw_headers)


@pytest.mark.parametrize("kind", KINDS)
def test_another_port_is_another_origin(servers: Servers, kind: str) -> None:
    other = servers("other-port")
    gateway = servers("gateway", default=redirect(f"http://{other.address}/landing", 302))
    call = caller(kind, make_context(awareness(gateway.address)))
    with inbound({"Authorization": "Bearer user-token"}):
        call("b", "/x", follow_redirects=True)
    (seen,) = other.requests
    assert "key" not in seen.headers and "authorization" not in seen.headers


@pytest.mark.parametrize("kind", KINDS)
def test_same_origin_redirect_keeps_the_credentials(servers: Servers, kind: str) -> None:
    gateway = servers("gateway", script=[redirect("/b/moved")])
    call = caller(kind, make_context(awareness(gateway.address)))
    with inbound({"Authorization": "Bearer user-token"}):
        call("b", "/x", follow_redirects=True)
    _, second = gateway.requests
    assert second.path == "/b/moved"
    assert second.headers["key"] == E_KEY
    assert second.headers["authorization"] == "Bearer user-token"


@pytest.mark.parametrize("kind", KINDS)
def test_coming_back_after_another_origin_stays_stripped(servers: Servers, kind: str) -> None:
    gateway = servers("gateway")
    evil = servers("foreign", host="127.0.0.2", script=[redirect(f"http://{gateway.address}/back")])
    gateway.script.append(redirect(f"http://{evil.address}/away"))
    call = caller(kind, make_context(awareness(gateway.address)))
    call("b", "/x", follow_redirects=True)
    first, back = gateway.requests
    assert first.headers["key"] == E_KEY
    assert back.path == "/back" and "key" not in back.headers


@pytest.mark.parametrize("kind", KINDS)
def test_redirects_are_not_followed_unless_asked(servers: Servers, kind: str) -> None:
    evil = foreign(servers)
    gateway = servers("gateway", default=redirect(f"http://{evil.address}/landing"))
    answer = caller(kind, make_context(awareness(gateway.address)))("b", "/x")
    assert answer.status_code == 307
    assert evil.requests == []


def test_own_client_that_follows_redirects_is_protected_too(servers: Servers) -> None:
    evil = foreign(servers)
    gateway = servers("gateway", default=redirect(f"http://{evil.address}/landing"))
    with httpx.Client(follow_redirects=True) as client:
        caller("sync", make_context(awareness(gateway.address)), client=client)("b", "/x")
    (seen,) = evil.requests
    assert "key" not in seen.headers


def test_redirect_loops_end(servers: Servers) -> None:
    gateway = servers("gateway", default=redirect("/b/again"))
    with httpx.Client(max_redirects=3) as client:
        call = caller("sync", make_context(awareness(gateway.address)), client=client)
        with pytest.raises(ServiceUnavailableError) as info:
            call("b", "/x", follow_redirects=True)
    assert isinstance(info.value.__cause__, httpx.TooManyRedirects)
    assert "more than 3 redirects" in str(info.value)
    assert len(gateway.requests) == 4


def test_what_httpx_alone_does(servers: Servers) -> None:
    """Why the connector follows redirects itself: httpx 0.28 drops only Authorization."""
    evil = foreign(servers)
    gateway = servers("gateway", default=redirect(f"http://{evil.address}/landing"))
    headers = {"key": E_KEY, "authorization": "Bearer t", "soajsinjectobj": "{}"}
    httpx.get(f"http://{gateway.address}/x", headers=headers, follow_redirects=True)
    (seen,) = evil.requests
    assert "authorization" not in seen.headers
    assert seen.headers["key"] == E_KEY and "soajsinjectobj" in seen.headers


@pytest.mark.parametrize("kind", KINDS)
def test_the_shared_pool_keeps_no_cookies(servers: Servers, kind: str) -> None:
    # one caller's session cookie must not ride along on the next caller's call
    gateway = servers("gateway", script=[status(200, {"Set-Cookie": "sid=tenant-one; Path=/"})])
    context = make_context(awareness(gateway.address))
    if kind == "sync":
        ServiceConnector(context).get("b", "/login")
        ServiceConnector(context).get("b", "/next")
    else:

        async def both() -> None:  # one loop, so one pooled client for both calls
            try:
                await AsyncServiceConnector(context).get("b", "/login")
                await AsyncServiceConnector(context).get("b", "/next")
            finally:
                await transport.aclose()

        asyncio.run(both())
    assert [("cookie" in seen.headers) for seen in gateway.requests] == [False, False]
