"""Circuit breaker transitions (fake clock) and the retry policy's pieces."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest
import tenacity

from soajs.connector import BreakerPolicy, CircuitBreaker, RetryPolicy
from soajs.connector.policy import WaitRetryAfter, parse_retry_after
from tests.connector.conftest import FakeClock


def state(cb: CircuitBreaker) -> str:
    return cb.state  # (a function, so mypy does not narrow the property between calls)


def breaker(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker("h:1", BreakerPolicy(threshold, reset), label="t", clock=clock), clock


def test_consecutive_failures_open_it() -> None:
    cb, _ = breaker(3)
    cb.record_failure()
    cb.record_failure()
    cb.record_success()  # not consecutive any more
    cb.record_failure()
    cb.record_failure()
    assert state(cb) == "closed"
    cb.record_failure()
    assert state(cb) == "open"
    assert not cb.allow()


def test_half_open_lets_one_probe_through_then_closes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    cb, clock = breaker(1, reset=5)
    cb.record_failure()
    clock.advance(4.9)
    assert not cb.allow()
    assert cb.retry_in() == pytest.approx(0.1)
    clock.advance(0.1)
    assert cb.allow()  # the probe
    assert state(cb) == "half-open"
    assert not cb.allow()  # one probe at a time
    cb.record_success()
    assert state(cb) == "closed"
    assert cb.allow()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "circuit for t opened after 1 consecutive failure(s) (last",
        "circuit for t half-open",
        "circuit for t closed",
    ]
    assert "no calls for 5 s, then one probe" in caplog.records[0].getMessage()
    assert "after 1 consecutive failure(s) over 5 s" in caplog.records[2].getMessage()


def test_failed_probe_opens_it_again() -> None:
    cb, clock = breaker(2, reset=5)
    cb.record_failure()
    cb.record_failure()
    clock.advance(5)
    assert cb.allow()
    cb.record_failure()
    assert state(cb) == "open"
    assert not cb.allow()
    clock.advance(5)
    assert cb.allow()


def test_a_lost_probe_is_replaced_after_the_cool_down() -> None:
    cb, clock = breaker(1, reset=5)
    cb.record_failure()
    clock.advance(5)
    assert cb.allow()  # this probe never reports back
    clock.advance(5)
    assert cb.allow()


def test_shared_across_threads_opens_exactly_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.connector")
    cb, _ = breaker(50)
    barrier = threading.Barrier(8)

    def fail() -> None:
        barrier.wait()
        for _ in range(25):
            cb.record_failure()

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cb.failures == 200
    assert state(cb) == "open"
    assert len([r for r in caplog.records if "opened" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"failure_threshold": 0}, "failure_threshold", id="threshold"),
        pytest.param({"reset_timeout": -1}, "reset_timeout", id="reset"),
    ],
)
def test_breaker_policy_checks(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BreakerPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"attempts": 0}, "attempts", id="attempts"),
        pytest.param({"total": 0}, "total", id="total"),
    ],
)
def test_retry_policy_checks(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("3", 3.0, id="delta-seconds"),
        pytest.param(" 0 ", 0.0, id="zero"),
        pytest.param("Wed, 21 Oct 2015 07:28:10 GMT", 10.0, id="http-date"),
        pytest.param("Wed, 21 Oct 2015 07:27:00 GMT", 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-1", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(value, now=now) == seconds


def _state(outcome: object) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    future = tenacity.Future(1)
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
    state.outcome = future
    return state


def test_wait_honours_retry_after_else_backs_off() -> None:
    wait = WaitRetryAfter(tenacity.wait_fixed(0.25))
    answer = httpx.Response(503, headers={"Retry-After": "7"})
    assert wait(_state(answer)) == 7.0
    assert wait(_state(httpx.Response(503))) == 0.25
    assert wait(_state(httpx.ConnectError("refused"))) == 0.25
