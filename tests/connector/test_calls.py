"""Real calls over loopback: a scripted callee, a gateway stand-in that records, faults.

Every fault is real: a port nobody listens on (connection refused), a
server that answers too late (read timeout), one that closes the
connection without answering, 503 with ``Retry-After``. The number of
attempts is counted on the server side. No assertion depends on timing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx
import pytest

from soajs.connector import (
    BreakerPolicy,
    CircuitOpenError,
    RetryPolicy,
    ServiceConnector,
    ServiceUnavailableError,
    inbound,
)
from soajs.connector.breaker import breakers
from tests.connector.conftest import E_KEY, FakeClock, awareness, make_context
from tests.connector.loopback import Loopback, drop, ok, slow, status
from tests.support import free_port

Servers = Callable[..., Loopback]
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002, total=10)
SHORT = httpx.Timeout(5.0, read=0.1)


def gateway_connector(gateway: str, **kwargs: object) -> ServiceConnector:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", SHORT)
    return ServiceConnector(make_context(awareness(gateway)), **kwargs)  # type: ignore[arg-type]


def mesh_connector(gateway: str | None, callee: str, **kwargs: object) -> ServiceConnector:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", SHORT)
    context = make_context(awareness(gateway, ("b", "1", callee, "1")))
    return ServiceConnector(context, **kwargs)  # type: ignore[arg-type]


def test_mesh_call_forwards_the_inject_header_unchanged(servers: Servers) -> None:
    callee = servers("b")
    connector = mesh_connector("127.0.0.1:1", callee.address)
    with inbound({"traceparent": "00-aa-bb-01", "Authorization": "Bearer secret"}):
        answer = connector.get("b", "/whoami", version="1")
    assert answer.json() == {"server": "b", "path": "/whoami"}
    (seen,) = callee.requests
    context = connector.context
    assert context is not None and context.raw_header is not None
    # http.server decodes header values as latin-1: re-encoding gives the bytes that came in
    assert seen.headers["soajsinjectobj"].encode("latin-1") == context.raw_header
    assert seen.headers["traceparent"] == "00-aa-bb-01"
    assert "key" not in seen.headers
    assert "authorization" not in seen.headers  # the user travels in soajsinjectobj


def test_gateway_call_as_the_gateway_sees_it(servers: Servers) -> None:
    gateway = servers("gateway")
    connector = gateway_connector(gateway.address)
    with inbound({"x-request-id": "r-1"}, query="access_token=tok"):
        connector.post("auth", "/login", version="2", json={"u": 1})
    (seen,) = gateway.requests
    assert (seen.method, seen.path) == ("POST", "/auth/v2/login")
    assert seen.headers["key"] == E_KEY
    # the caller's query-string token goes on as a header: URLs end up in logs
    assert seen.query == {}
    assert seen.headers["access_token"] == "tok"
    assert seen.headers["x-request-id"] == "r-1"
    assert "soajsinjectobj" not in seen.headers
    assert seen.body == b'{"u":1}'


def test_seed_usage_with_plain_httpx(servers: Servers) -> None:
    gateway = servers("gateway")
    connection = gateway_connector(gateway.address).connect("auth-service", version="1")
    httpx.get(f"http://{connection.host}/endpoint", headers=connection.headers).raise_for_status()
    (seen,) = gateway.requests
    assert seen.path == "/auth-service/v1/endpoint"
    assert seen.headers["key"] == E_KEY
    assert "soajsinjectobj" not in seen.headers


# -- faults ---------------------------------------------------------------------


def test_connection_refused_is_retried_then_reported() -> None:
    port = free_port()  # nobody listens there
    with pytest.raises(ServiceUnavailableError) as info:
        gateway_connector(f"127.0.0.1:{port}").get("b", "/x", version="1")
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "service 'b' v1" in str(info.value)


def test_read_timeout_is_retried(servers: Servers) -> None:
    gateway = servers("gateway", default=slow(30))
    with pytest.raises(ServiceUnavailableError) as info:
        gateway_connector(gateway.address).get("b", "/slow")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(gateway.requests) == 3


def test_slow_answer_within_the_timeout_is_not_retried(servers: Servers) -> None:
    gateway = servers("gateway", script=[slow(0.05)])
    connector = gateway_connector(gateway.address, timeout=httpx.Timeout(5.0))
    assert connector.get("b", "/slow").status_code == 200
    assert len(gateway.requests) == 1


def test_503_with_retry_after_is_retried(servers: Servers) -> None:
    gateway = servers("gateway", script=[status(503, {"Retry-After": "0"})])
    assert gateway_connector(gateway.address).get("b", "/").status_code == 200
    assert len(gateway.requests) == 2


def test_retry_after_past_the_deadline_ends_the_retries(servers: Servers) -> None:
    gateway = servers("gateway", default=status(503, {"Retry-After": "3600"}))
    answer = gateway_connector(gateway.address).get("b", "/")
    assert answer.status_code == 503  # not retried an hour later: handed back to the caller
    assert answer.headers["retry-after"] == "3600"
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(
    ("method", "idempotent", "attempts"),
    [
        pytest.param("GET", None, 3, id="get"),
        pytest.param("POST", None, 1, id="post"),
        pytest.param("POST", True, 3, id="post-idempotent"),
    ],
)
def test_dropped_connection(
    servers: Servers, method: str, idempotent: bool | None, attempts: int
) -> None:
    gateway = servers("gateway", default=drop())
    with pytest.raises(ServiceUnavailableError) as info:
        gateway_connector(gateway.address).request(
            "b", method, "/x", idempotent=idempotent, content=b"body"
        )
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert len(gateway.requests) == attempts


def test_post_503_is_not_retried(servers: Servers) -> None:
    gateway = servers("gateway", default=status(503, {"Retry-After": "0"}))
    assert gateway_connector(gateway.address).post("b", "/x").status_code == 503
    assert len(gateway.requests) == 1


def test_the_pool_is_reused(servers: Servers) -> None:
    gateway = servers("gateway")
    for _ in range(10):
        gateway_connector(gateway.address).get("b", "/")  # a new connector per request
    assert len(gateway.requests) == 10
    assert gateway.connections == 1


def test_a_dropped_connection_is_replaced_in_the_pool(servers: Servers) -> None:
    gateway = servers("gateway", script=[ok(), drop()])
    connector = gateway_connector(gateway.address)
    connector.get("b", "/")
    assert connector.get("b", "/").status_code == 200  # the retry opened a new connection
    assert gateway.connections == 2


# -- failover and the breaker -----------------------------------------------------


def test_mesh_target_down_fails_over_to_the_gateway(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    gateway = servers("gateway")
    dead = f"127.0.0.1:{free_port()}"
    connector = mesh_connector(gateway.address, dead)
    with inbound({"Authorization": "Bearer user-token"}):
        answer = connector.post("b", "/orders", version="1", json={})  # POST: never sent yet
    assert answer.json()["server"] == "gateway"
    (seen,) = gateway.requests
    assert seen.path == "/b/v1/orders"
    assert seen.headers["key"] == E_KEY
    assert seen.headers["authorization"] == "Bearer user-token"
    assert "soajsinjectobj" not in seen.headers
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert dead in message and gateway.address in message and "service 'b' v1" in message
    assert E_KEY not in message and "user-token" not in message


def test_breaker_opens_fails_over_and_recovers(
    servers: Servers, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    gateway = servers("gateway")
    port = free_port()
    connector = mesh_connector(
        gateway.address, f"127.0.0.1:{port}", breaker=BreakerPolicy(2, reset_timeout=30)
    )
    for _ in range(5):
        assert connector.get("b", "/", version="1").json()["server"] == "gateway"
    messages = [r.getMessage() for r in caplog.records]
    # one WARNING for the first failure of the streak, then the breaker's own when it opens
    assert sum("fails over" in m for m in messages) == 1
    assert sum("opened after 2" in m for m in messages) == 1
    assert breakers.get(f"127.0.0.1:{port}", BreakerPolicy()).state == "open"

    callee = servers("b", port=port)  # the service is back
    clock.advance(10)
    assert connector.get("b", "/", version="1").json()["server"] == "gateway"  # still cooling
    assert callee.requests == []
    clock.advance(20)
    assert connector.get("b", "/", version="1").json()["server"] == "b"  # the probe
    assert connector.get("b", "/", version="1").json()["server"] == "b"
    assert len(gateway.requests) == 6
    messages = [r.getMessage() for r in caplog.records]
    assert sum("half-open" in m for m in messages) == 1
    assert sum("closed" in m for m in messages) == 1


def test_a_call_that_failed_over_retries_on_the_gateway_not_the_dead_target(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    gateway = servers("gateway", script=[status(503)])  # then 200
    dead = f"127.0.0.1:{free_port()}"
    connector = mesh_connector(gateway.address, dead, breaker=BreakerPolicy(5))
    assert connector.get("b", "/", version="1").json()["server"] == "gateway"
    assert len(gateway.requests) == 2
    # the retry after the gateway's 503 did not go back to the dead mesh target
    assert breakers.get(dead, BreakerPolicy()).failures == 1
    assert sum("fails over" in r.getMessage() for r in caplog.records) == 1


def test_mesh_503s_open_the_breaker_but_gateway_503s_do_not(
    servers: Servers, clock: FakeClock
) -> None:
    callee = servers("b", default=status(503))
    gateway = servers("gateway", default=status(503))
    connector = mesh_connector(
        gateway.address, callee.address, breaker=BreakerPolicy(3), retry=RetryPolicy(attempts=1)
    )
    for _ in range(3):
        assert connector.get("b", "/", version="1").json()["server"] == "b"
    for _ in range(5):  # the mesh circuit is open: the gateway answers, 503 or not
        assert connector.get("b", "/", version="1").json()["server"] == "gateway"
    assert breakers.get(gateway.address, BreakerPolicy()).state == "closed"


def test_open_gateway_fails_fast_with_a_clear_error(clock: FakeClock) -> None:
    address = f"127.0.0.1:{free_port()}"
    connector = gateway_connector(
        address, breaker=BreakerPolicy(1, reset_timeout=30), retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(ServiceUnavailableError):
        connector.get("b", "/", version="1")
    with pytest.raises(CircuitOpenError) as info:
        connector.get("b", "/", version="1")
    error = info.value
    assert error.target == address
    assert error.retry_in == pytest.approx(30)
    assert f"gateway {address}" in str(error) and "service 'b' v1" in str(error)


def test_mesh_and_gateway_both_open(servers: Servers, clock: FakeClock) -> None:
    mesh = f"127.0.0.1:{free_port()}"
    gw = f"127.0.0.1:{free_port()}"
    connector = mesh_connector(
        gw, mesh, breaker=BreakerPolicy(1, reset_timeout=30), retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(ServiceUnavailableError) as first:
        connector.get("b", "/", version="1")  # mesh refused -> gateway refused
    assert first.value.attempts == 2
    with pytest.raises(CircuitOpenError, match="is open too"):
        connector.get("b", "/", version="1")


def test_threads_share_the_pool_and_the_breakers(servers: Servers) -> None:
    gateway = servers("gateway")
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            code = gateway_connector(gateway.address).get("b", "/").status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 30
    assert gateway.connections <= 6  # kept alive and reused, never one per call
    assert breakers.get(gateway.address, BreakerPolicy()).state == "closed"
