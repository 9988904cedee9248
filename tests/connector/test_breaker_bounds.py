"""The breaker registry's bound and eviction order, and WARNING storms across
targets, on a fake clock. (The real-server flood is test_breaker_flood.py.)"""

from __future__ import annotations

import logging

import pytest

from soajs.connector.breaker import BreakerPolicy, BreakerRegistry
from soajs.connector.storm import StormGate

FAST = BreakerPolicy(failure_threshold=1, reset_timeout=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registry(max_targets: int, clock: Clock) -> BreakerRegistry:
    return BreakerRegistry(clock, max_targets=max_targets, logs=StormGate(clock=clock))


def test_never_more_than_max_targets_and_idle_ones_go_first() -> None:
    clock = Clock()
    reg = registry(8, clock)
    reg.get("open-1", FAST).record_failure("ConnectError")
    reg.get("open-2", FAST).record_failure("ConnectError")
    failing = reg.get("failing", BreakerPolicy(failure_threshold=5))
    failing.record_failure("ConnectError")
    for i in range(5):
        reg.get(f"idle-{i}", FAST)
    assert len(reg.snapshot()) == 8
    reg.get("idle-0", FAST)  # used again: the least recently used idle ones go first
    for i in range(100):
        reg.get(f"new-{i}", FAST)
        assert len(reg.snapshot()) <= 8
    kept = set(reg.snapshot())
    assert {"open-1", "open-2"} <= kept  # open within their reset window: kept
    assert reg.evicted >= 95


def test_closed_idle_then_failing_then_open_past_its_window() -> None:
    clock = Clock()
    reg = registry(4, clock)
    reg.get("old-open", FAST).record_failure("x")
    clock.now += 11  # its reset window passed: it would let a probe through anyway
    reg.get("young-open", FAST).record_failure("x")
    reg.get("failing", BreakerPolicy(failure_threshold=5)).record_failure("x")
    reg.get("idle", FAST)
    reg.get("n1", FAST)  # one batch (a quarter of 4 = 1): the idle one goes
    assert set(reg.snapshot()) == {"old-open", "young-open", "failing", "n1"}
    reg.get("n2", FAST)  # n1 is idle and the least recently used idle one
    assert "n1" not in reg.snapshot()
    reg.get("n2", FAST).record_failure("x")  # n2 now open too (threshold 1)
    reg.get("n3", FAST)  # no idle left: the failing one goes
    assert "failing" not in reg.snapshot()
    reg.get("n3", FAST).record_failure("x")
    reg.get("n4", FAST)  # only open ones: the one past its window goes
    assert set(reg.snapshot()) == {"young-open", "n2", "n3", "n4"}


def test_open_breakers_are_kept_only_up_to_the_hard_cap() -> None:
    clock = Clock()
    reg = registry(4, clock)
    assert reg.hard_cap == 16
    for i in range(200):
        reg.get(f"open-{i}", FAST).record_failure("ConnectError")
        assert len(reg.snapshot()) <= reg.hard_cap
    assert len(reg.snapshot()) > 4  # open ones outlived the soft bound
    assert "open-199" in reg.snapshot()  # the most recent are kept


def test_max_targets_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_targets"):
        BreakerRegistry(max_targets=0)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "soajs.connector" and r.levelno == logging.WARNING
    ]


def test_few_targets_keep_every_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs.connector")
    clock = Clock()
    reg = registry(1024, clock)
    for target in ("a:1", "b:2", "c:3"):
        reg.get(target, FAST).record_failure("ConnectError")
    clock.now += 11
    for target in ("a:1", "b:2", "c:3"):
        breaker = reg.get(target, FAST)
        assert breaker.allow()
        breaker.record_success()
    lines = warnings(caplog)
    assert len(lines) == 9  # opened, half-open, closed: per target, as before
    assert not any("storm" in line for line in lines)


def test_a_storm_across_targets_is_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="soajs.connector")
    clock = Clock()
    reg = registry(100_000, clock)
    gate = reg.logs
    for i in range(500):
        reg.get(f"t{i}:1", FAST).record_failure("ConnectError")
    lines = warnings(caplog)
    assert len(lines) == gate.burst + 1
    assert "storm" in lines[-1]
    # the storm goes on for three more intervals: one summary line each
    for interval in range(3):
        caplog.clear()
        clock.now += gate.interval
        for i in range(300):
            reg.get(f"s{interval}-{i}:1", FAST).record_failure("ConnectError")
        lines = warnings(caplog)
        assert len(lines) == 1, lines
        assert "goes on" in lines[0]
        expected = 490 if interval == 0 else 300
        assert f"{expected} per-target line(s) about {expected} distinct target(s)" in lines[0]
    # quiet: each summary comes with the first call after its interval
    caplog.clear()
    clock.now += gate.interval
    reg.get("t0:1", FAST)
    lines = warnings(caplog)
    assert len(lines) == 1 and "goes on: 300 per-target" in lines[0]
    caplog.clear()
    clock.now += gate.interval
    reg.get("t0:1", FAST)  # the quiet interval ended: the storm is over
    lines = warnings(caplog)
    assert len(lines) == 1 and "storm over: 0 per-target" in lines[0]
    caplog.clear()
    reg.get("fresh:1", FAST).record_failure("ConnectError")
    assert len(warnings(caplog)) == 1  # back to per-target lines
    assert not any(r.levelno > logging.WARNING for r in caplog.records)


def test_reset_logs_what_a_storm_suppressed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    clock = Clock()
    reg = registry(100_000, clock)
    for i in range(20):
        reg.get(f"t{i}:1", FAST).record_failure("ConnectError")
    caplog.clear()
    assert reg.reset() == 20
    lines = warnings(caplog)
    assert len(lines) == 1 and "10 per-target line(s) about 10 distinct" in lines[0]
    caplog.clear()
    reg.get("a:1", FAST).record_failure("ConnectError")
    assert len(warnings(caplog)) == 1  # counts start over
