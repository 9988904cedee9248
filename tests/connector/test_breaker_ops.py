"""Breakers for operators: conflicting policies are not silent, state can be read and reset,
and a long outage logs a bounded number of lines (issue 12, findings 5 and 6). Real servers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from soajs.connector import (
    BreakerPolicy,
    RetryPolicy,
    ServiceConnector,
    ServiceUnavailableError,
    breakers,
    inbound,
)
from tests.connector.conftest import E_KEY, FakeClock, awareness, make_context
from tests.connector.loopback import Loopback
from tests.support import free_port

Servers = Callable[..., Loopback]
ONCE = RetryPolicy(attempts=1)


def gateway(address: str, **options: object) -> ServiceConnector:
    options.setdefault("retry", ONCE)
    return ServiceConnector(make_context(awareness(address)), **options)  # type: ignore[arg-type]


def test_a_second_policy_for_one_target_warns_once(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    peer = servers("gateway")
    gateway(peer.address, breaker=BreakerPolicy(5, 10)).get("b", "/")
    for _ in range(3):
        gateway(peer.address, breaker=BreakerPolicy(2, 60)).get("b", "/")
    gateway(peer.address, breaker=BreakerPolicy(5, 10)).get("b", "/")  # the same as the first
    (record,) = caplog.records
    message = record.getMessage()
    assert "failure_threshold=2" in message and "failure_threshold=5" in message
    assert f"breakers.reset('{peer.address}')" in message
    state = breakers.snapshot()[peer.address]
    assert state.policy == BreakerPolicy(5, 10)  # the first one stays
    assert state.policy_conflicts >= 3  # every look-up by a conflicting call counts


def test_snapshot_and_reset(servers: Servers, clock: FakeClock) -> None:
    dead = f"127.0.0.1:{free_port()}"
    alive = servers("gateway")
    connector = gateway(dead, breaker=BreakerPolicy(2, 30))
    for _ in range(2):
        with pytest.raises(ServiceUnavailableError):
            connector.get("b", "/")
    gateway(alive.address).get("b", "/")
    snap = breakers.snapshot()
    assert set(snap) == {dead, alive.address}
    state = snap[dead]
    assert (state.state, state.failures, state.retry_in) == ("open", 2, 30)
    assert state.opened_at is not None and abs(state.opened_at - time.time()) < 5
    assert state.label == f"gateway {dead}"
    assert snap[alive.address].state == "closed" and snap[alive.address].opened_at is None

    assert breakers.reset(dead) == 1
    assert breakers.reset(dead) == 0
    assert dead not in breakers.snapshot()
    with pytest.raises(ServiceUnavailableError):  # tried again at once: not refused by a circuit
        connector.get("b", "/")
    assert breakers.reset() == 2
    assert breakers.snapshot() == {}


def test_a_long_outage_logs_a_bounded_number_of_lines(
    servers: Servers, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs.connector")
    gw = servers("gateway")
    port = free_port()
    context = make_context(awareness(gw.address, ("b", "1", f"127.0.0.1:{port}", "1")))
    connector = ServiceConnector(context, retry=ONCE, breaker=BreakerPolicy(1, 5))
    with inbound({"Authorization": "Bearer user-token"}):
        for _ in range(40):  # 40 cool-downs, 40 failed probes: each fails over to the gateway
            assert connector.get("b", "/", version="1").json()["server"] == "gateway"
            clock.advance(5)
        servers("b", port=port)  # back
        assert connector.get("b", "/", version="1").json()["server"] == "b"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 4, warnings  # failover, opened, first half-open, closed
    closed = warnings[-1]
    assert "closed" in closed and "after 40 consecutive failure(s)" in closed
    # 39 half-opens, 39 re-opens, 39 failovers after the first
    assert "117 repeat line(s) of this streak were logged at DEBUG only" in closed
    for record in caplog.records:
        text = record.getMessage()
        assert E_KEY not in text and "user-token" not in text and "ikey" not in text
