"""The async connector over real loopback servers: the same behaviour as the sync one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from soajs.connector import (
    AsyncServiceConnector,
    BreakerPolicy,
    CircuitOpenError,
    RetryPolicy,
    ServiceUnavailableError,
    inbound,
    transport,
)
from soajs.context.current import reset_context, set_context
from tests.connector.conftest import E_KEY, FakeClock, awareness, make_context
from tests.connector.loopback import Loopback, drop, slow, status
from tests.support import free_port

Servers = Callable[..., Loopback]
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002)
SHORT = httpx.Timeout(5.0, read=0.1)
T = TypeVar("T")


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run on a fresh loop; the loop's pooled client is closed before the loop ends."""

    async def main() -> T:
        try:
            return await make()
        finally:
            await transport.aclose()

    return asyncio.run(main())


def connector(gateway: str | None, *mesh: tuple[str, str, str, str], **kwargs: object):
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", SHORT)
    return AsyncServiceConnector(make_context(awareness(gateway, *mesh)), **kwargs)  # type: ignore[arg-type]


def test_mesh_call_and_current_context(servers: Servers) -> None:
    callee = servers("b")
    context = make_context(awareness(None, ("b", "1", callee.address, "1")))

    async def call() -> httpx.Response:
        token = set_context(context)
        try:
            with inbound({"tracestate": "k=v"}):
                return await AsyncServiceConnector(retry=FAST).get("b", "/who")
        finally:
            reset_context(token)

    assert run(call).json()["server"] == "b"
    (seen,) = callee.requests
    assert context.raw_header is not None
    assert seen.headers["soajsinjectobj"].encode("latin-1") == context.raw_header
    assert seen.headers["tracestate"] == "k=v"


def test_gateway_call_and_pool_reuse(servers: Servers) -> None:
    gateway = servers("gateway")

    async def calls() -> None:
        for _ in range(10):
            await connector(gateway.address).put("b", "/x", version="3", content=b"{}")

    run(calls)
    assert [r.path for r in gateway.requests] == ["/b/v3/x"] * 10
    assert all(r.headers["key"] == E_KEY for r in gateway.requests)
    assert not any("soajsinjectobj" in r.headers for r in gateway.requests)
    assert gateway.connections == 1


def test_concurrent_calls_share_the_loop_pool(servers: Servers) -> None:
    gateway = servers("gateway", default=slow(0.02))

    async def calls() -> list[int]:
        conn = connector(gateway.address, timeout=httpx.Timeout(5.0))
        answers = await asyncio.gather(*(conn.get("b", "/") for _ in range(4)))
        return [a.status_code for a in answers]

    assert run(calls) == [200] * 4
    assert gateway.connections <= 4


@pytest.mark.parametrize(
    ("method", "script", "attempts", "error"),
    [
        pytest.param("GET", slow(30), 3, httpx.ReadTimeout, id="get-read-timeout"),
        pytest.param("GET", drop(), 3, httpx.RemoteProtocolError, id="get-dropped"),
        pytest.param("POST", drop(), 1, httpx.RemoteProtocolError, id="post-dropped"),
    ],
)
def test_faults(
    servers: Servers, method: str, script: object, attempts: int, error: type[Exception]
) -> None:
    gateway = servers("gateway", default=script)
    with pytest.raises(ServiceUnavailableError) as info:
        run(lambda: connector(gateway.address).request("b", method, "/x"))
    assert isinstance(info.value.__cause__, error)
    assert len(gateway.requests) == attempts


def test_retry_after(servers: Servers) -> None:
    gateway = servers("gateway", script=[status(503, {"Retry-After": "0"}), status(502)])
    assert run(lambda: connector(gateway.address).get("b", "/")).status_code == 200
    assert len(gateway.requests) == 3


def test_refused(servers: Servers) -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        run(lambda: connector(f"127.0.0.1:{free_port()}").get("b", "/"))
    assert info.value.attempts == 3


def test_failover_breaker_and_recovery(
    servers: Servers, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    gateway = servers("gateway")
    port = free_port()
    conn = connector(
        gateway.address, ("b", "1", f"127.0.0.1:{port}", "1"), breaker=BreakerPolicy(1, 30)
    )

    async def where() -> str:
        answer = await conn.get("b", "/", version="1")
        return str(answer.json()["server"])

    assert run(where) == "gateway"  # refused: failed over, circuit opened
    assert run(where) == "gateway"  # open: straight to the gateway
    servers("b", port=port)
    clock.advance(30)
    assert run(where) == "b"  # the probe closes it
    messages = [r.getMessage() for r in caplog.records]
    assert sum("fails over" in m for m in messages) == 1
    assert sum("opened" in m for m in messages) == 1
    assert sum("closed" in m for m in messages) == 1


def test_open_gateway_fails_fast(clock: FakeClock) -> None:
    conn = connector(
        f"127.0.0.1:{free_port()}", breaker=BreakerPolicy(1, 30), retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(ServiceUnavailableError):
        run(lambda: conn.get("b", "/"))
    with pytest.raises(CircuitOpenError, match="gateway"):
        run(lambda: conn.get("b", "/"))


def test_each_loop_gets_its_own_client() -> None:
    async def client() -> httpx.AsyncClient:
        return transport.async_client()

    async def twice() -> bool:
        return transport.async_client() is transport.async_client()

    assert run(twice)
    first = run(client)
    second = run(client)
    assert first is not second
    assert first.is_closed and second.is_closed
