"""Registry loads against a real control plane: counted, hooked, and quiet in the logs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.observability import ReloadEvent, clear_hooks, families, on_reload
from tests.support import wait_until

Make = Callable[..., RegistryManager]


@pytest.fixture(autouse=True)
def _no_hooks() -> Iterator[None]:
    clear_hooks()
    yield
    clear_hooks()


def value(name: str, suffix: str, **labels: str) -> float:
    family = families.local()[name]
    return family.samples.get((suffix, tuple(labels.items())), 0.0)


def test_a_reload_is_counted_timed_and_reported_to_the_hooks(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    import gc

    from soajs.observability import counters

    counters.stats.polls.clear()  # a fresh label set: earlier tests may have filled its cap
    counters.stats.reloads.clear()
    gc.collect()  # earlier tests' dropped "hello" managers (their cycles) leave the gauges
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    before = value("soajs_registry_polls", "_total", service="hello", outcome="ok")
    timed = value("soajs_registry_reload_duration_seconds", "_count", service="hello")
    seen: list[ReloadEvent] = []
    on_reload(seen.append)
    assert manager.request_reload().future.result(timeout=10).ok
    assert value("soajs_registry_polls", "_total", service="hello", outcome="ok") == before + 1
    assert value("soajs_registry_reload_duration_seconds", "_count", service="hello") == timed + 1
    assert wait_until(lambda: len(seen) == 1, timeout=5)
    assert seen[0].service == "hello" and seen[0].ok and seen[0].error is None
    assert value("soajs_registry_ready", "", service="hello") == 1.0
    assert 0 <= value("soajs_registry_snapshot_age_seconds", "", service="hello") < 60


def test_a_failing_or_slow_hook_never_holds_the_registry(
    control_plane: ControlPlaneServer, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.observability")
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    release = threading.Event()
    calls: list[bool] = []

    @on_reload
    def broken(event: ReloadEvent) -> None:
        raise RuntimeError("hook bug")

    @on_reload
    def slow(event: ReloadEvent) -> None:
        calls.append(event.ok)
        release.wait(10)

    try:
        for _ in range(3):
            start = time.monotonic()
            assert manager.request_reload(broadcast=False).future.result(timeout=10).ok
            assert time.monotonic() - start < 3  # the slow hook is not waited for
            time.sleep(1.1)  # past the reload rate limit
    finally:
        release.set()
    assert wait_until(lambda: len(calls) == 3, timeout=10)
    lines = [r.getMessage() for r in caplog.records if "hook bug" in r.getMessage()]
    assert len(lines) == 1, lines  # once per interval, not once per event


def test_control_plane_polls_log_no_httpx_line_but_the_apps_calls_do(
    control_plane: ControlPlaneServer, make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    assert manager.request_reload().future.result(timeout=10).ok
    assert control_plane.store.calls["/getRegistry"] >= 2
    assert [r for r in caplog.records if r.name == "httpx"] == []
    httpx.get(f"http://{control_plane.address}/getRegistry?env=dev&serviceName=hello", timeout=5)
    mine = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(mine) == 1 and "HTTP Request" in mine[0], mine


def test_breaker_transitions_are_counted_and_hooked_even_when_a_hook_raises() -> None:
    from soajs.connector.breaker import BreakerPolicy, CircuitBreaker
    from soajs.observability import BreakerEvent, on_breaker_change

    seen: list[Any] = []

    @on_breaker_change
    def broken(event: BreakerEvent) -> None:
        raise ValueError("hook bug")

    on_breaker_change(seen.append)
    from soajs.observability import counters

    counters.stats.transitions.clear()  # a fresh label set: earlier tests may have filled its cap
    target = "10.9.9.9:4000"
    opened = value("soajs_connector_breaker_transitions", "_total", target=target, state="open")
    breaker = CircuitBreaker(target, BreakerPolicy(failure_threshold=1, reset_timeout=0))
    breaker.record_failure("ConnectError")
    assert breaker.state == "open"
    assert breaker.allow()  # half-open probe
    breaker.record_success()
    assert str(breaker.state) == "closed"
    assert wait_until(lambda: len(seen) == 3, timeout=5)
    assert [(e.previous, e.state) for e in seen] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]
    after = value("soajs_connector_breaker_transitions", "_total", target=target, state="open")
    assert after == opened + 1


def test_registrations_and_loads_are_spans_and_counts(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    from opentelemetry.trace import StatusCode

    from soajs import Config
    from soajs.observability import counters
    from tests.observability.otel import sdk

    counters.stats.registrations.clear()
    counters.stats.polls.clear()
    config = Config(name="fresh", group="Demo", port=4390, version="2", extKeyRequired=True)
    with sdk() as exporter:
        manager = make_manager("fresh", registry_api=control_plane.address, deploy_manual=True,
                               config=config, srv_ip="127.0.0.7", auto_reload=False)  # fmt: skip
        assert manager.request_reload().future.result(timeout=10).ok
        manager.stop()
        spans = {s.name: s for s in exporter.get_finished_spans()}
    assert value("soajs_registry_registrations", "_total", service="fresh", outcome="ok") >= 1
    assert spans["soajs.registry.register"].attributes == {"soajs.service": "fresh"}
    loads = [s for s in exporter.get_finished_spans() if s.name == "soajs.registry.load"]
    assert [dict(s.attributes or {}) for s in loads] == [
        {"soajs.service": "fresh", "soajs.initial": True},  # start(): registers, then loads
        {"soajs.service": "fresh", "soajs.initial": False},
    ]
    assert all(s.status.status_code is not StatusCode.ERROR for s in loads)
    register = spans["soajs.registry.register"]
    assert register.parent is not None and register.parent.span_id == loads[0].context.span_id


def test_a_failed_load_is_an_error_span_and_a_counted_outcome(make_manager: Make) -> None:
    from opentelemetry.trace import StatusCode

    from soajs.observability import counters
    from tests.observability.otel import sdk
    from tests.support import free_port

    counters.stats.polls.clear()
    with sdk() as exporter:
        manager = make_manager("hello", registry_api=f"127.0.0.1:{free_port()}",
                               start_degraded=True, auto_reload=False, timeout=1)  # fmt: skip
        assert not manager.request_reload().future.result(timeout=10).ok
        spans = [s for s in exporter.get_finished_spans() if s.name == "soajs.registry.load"]
    assert spans and spans[-1].status.status_code is StatusCode.ERROR
    failed = value("soajs_registry_polls", "_total", service="hello", outcome="control_plane_error")
    assert failed >= 1


def test_a_stuck_hook_drops_events_past_the_bound_with_one_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soajs.observability import BreakerEvent, hooks, on_breaker_change

    monkeypatch.setattr(hooks, "_last_drop_log", -1e9)  # no drop line logged lately
    monkeypatch.setattr(hooks, "_dropped", 0)
    caplog.set_level(logging.WARNING, logger="soajs.observability")
    release = threading.Event()
    got: list[BreakerEvent] = []

    @on_breaker_change
    def stuck(event: BreakerEvent) -> None:
        got.append(event)
        release.wait(10)

    try:
        start = time.monotonic()
        for i in range(hooks.MAX_PENDING * 3):
            hooks.emit(BreakerEvent(f"10.0.0.{i % 250}:1", "x", "open", "closed"))
        assert time.monotonic() - start < 2  # never blocks the caller
    finally:
        release.set()
    assert wait_until(lambda: hooks._queue.empty(), timeout=10)
    assert len(got) <= hooks.MAX_PENDING + 1
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1, drops


def test_metrics_answer_is_bounded_whole_families_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from soajs.observability import export

    monkeypatch.setattr(export, "MAX_BYTES", 600)
    status, body, _ = export.metrics_answer()
    assert status == 200 and len(body) <= 600 + 100
    assert b"families left out (size cap)" in body
    list(text_string_to_metric_families(body.decode()))  # still valid exposition text


def test_the_first_load_in_start_is_counted_and_reported_as_initial(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    from soajs.observability import counters

    counters.stats.polls.clear()
    before = value("soajs_registry_polls", "_total", service="hello", outcome="ok")
    seen: list[ReloadEvent] = []
    on_reload(seen.append)
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    assert manager.is_ready
    assert value("soajs_registry_polls", "_total", service="hello", outcome="ok") == before + 1
    assert wait_until(lambda: len(seen) == 1, timeout=5)
    assert seen[0].ok and seen[0].initial
    assert manager.request_reload(broadcast=False).future.result(timeout=10).ok
    assert wait_until(lambda: len(seen) == 2, timeout=5)
    assert seen[1].ok and not seen[1].initial
    assert value("soajs_registry_polls", "_total", service="hello", outcome="ok") == before + 2


def test_a_failed_first_load_is_counted_and_reported(make_manager: Make) -> None:
    from soajs.errors import RegistryError
    from soajs.observability import counters
    from tests.support import free_port

    counters.stats.polls.clear()
    seen: list[ReloadEvent] = []
    on_reload(seen.append)
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryError):
        make_manager("hello", registry_api=dead, auto_reload=False)
    failed = sum(
        value("soajs_registry_polls", "_total", service="hello", outcome=outcome)
        for outcome in ("timeout", "control_plane_error", "error")
    )
    assert failed == 1
    assert wait_until(lambda: len(seen) == 1, timeout=5)
    assert not seen[0].ok and seen[0].initial and seen[0].error


def test_a_stopped_manager_leaves_the_gauges_at_once(
    control_plane: ControlPlaneServer, make_manager: Make
) -> None:
    manager = make_manager("stopping", registry_api=control_plane.address, auto_reload=False)
    assert value("soajs_registry_ready", "", service="stopping") == 1.0
    manager.stop()  # still referenced: only its state says it is gone
    fams = families.local()
    assert ("", (("service", "stopping"),)) not in fams["soajs_registry_ready"].samples
    assert ("", (("service", "stopping"),)) not in fams[
        "soajs_registry_snapshot_age_seconds"
    ].samples
