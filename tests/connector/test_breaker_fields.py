"""The connector's WARNINGs (breaker, failover, storm) carry structured fields even
though they pass through the storm gate, and the breaker's state and transitions are
on ``/metrics`` (real dead port, real gateway on loopback)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from soajs.connector import BreakerPolicy
from soajs.observability import metrics_answer
from tests.connector.conftest import FakeClock
from tests.connector.loopback import Loopback
from tests.connector.test_calls import mesh_connector
from tests.support import free_port


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body, _ = metrics_answer()
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_breaker_and_failover_warnings_have_fields_and_metrics(
    servers: Callable[..., Loopback], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from soajs.observability import counters

    counters.stats.transitions.clear()  # a fresh label set: earlier tests may have filled its cap
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    gateway = servers("gateway")
    target = f"127.0.0.1:{free_port()}"
    opened = ("soajs_connector_breaker_transitions_total", (("state", "open"), ("target", target)))
    before = _samples().get(opened, 0.0)
    connector = mesh_connector(gateway.address, target, breaker=BreakerPolicy(2, reset_timeout=30))
    for _ in range(4):
        assert connector.get("b", "/", version="1").json()["server"] == "gateway"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) >= 2
    for record in warnings:
        assert record.soajs_target == target, record.getMessage()  # type: ignore[attr-defined]
    events = {record.soajs_event for record in warnings}  # type: ignore[attr-defined]
    assert events == {"failover", "breaker"}
    found = _samples()
    assert found[opened] == before + 1
    state = ("soajs_connector_breaker_state", (("state", "open"), ("target", target)))
    assert found[state] == 1
