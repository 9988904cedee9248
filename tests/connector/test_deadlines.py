"""Wall-clock deadlines against real hostile peers on loopback, sync and async.

Finding 3 of issue 12: a peer trickling 100 bytes at 1 byte/s kept a call
alive for 45 s+ despite a 10 s timeout (httpx timeouts restart with every
byte). Bounds asserted here are generous (3x at most over the deadline);
precise timings belong to benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from soajs.connector import (
    DeadlineExceededError,
    RetryPolicy,
    ServiceConnector,
    ServiceUnavailableError,
)
from soajs.connector.breaker import breakers
from soajs.models import ContextData
from tests.connector.conftest import awareness, make_context
from tests.connector.loopback import Loopback, hang_after_headers, ok, trickle, trickle_headers
from tests.connector.twins import KINDS, caller, stream_count

Servers = Callable[..., Loopback]
ONCE = RetryPolicy(attempts=1)
# per-operation timeouts that a trickle never trips: only the wall clock can stop it
PATIENT = httpx.Timeout(30.0)


def gateway_ctx(server: Loopback) -> ContextData:
    return make_context(awareness(server.address))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "action",
    [
        pytest.param(trickle(100, 1.0), id="body-1-byte-per-s"),
        pytest.param(trickle_headers(1.0), id="headers-1-byte-per-s"),
        pytest.param(hang_after_headers(), id="silent-after-headers"),
    ],
)
def test_call_deadline_cuts_a_slow_peer(servers: Servers, kind: str, action: object) -> None:
    peer = servers("trickler", default=action)
    call = caller(kind, gateway_ctx(peer), timeout=PATIENT, retry=ONCE, deadline=2)
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        call("b", "/slow")
    elapsed = time.monotonic() - start
    assert elapsed < 5, f"a 2 s deadline took {elapsed:.1f} s"
    error = info.value
    assert (error.deadline, error.seconds) == ("call", 2)
    assert "the call deadline of 2 s passed" in str(error)
    assert isinstance(error, ServiceUnavailableError)  # old handlers still catch it
    assert isinstance(error.__cause__, httpx.TimeoutException)


@pytest.mark.parametrize("kind", KINDS)
def test_attempt_deadline_is_retried_within_the_call_deadline(servers: Servers, kind: str) -> None:
    peer = servers("trickler", default=trickle(100, 0.5))
    call = caller(
        kind,
        gateway_ctx(peer),
        timeout=PATIENT,
        retry=RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.002),
        attempt_deadline=1,
        deadline=10,
    )
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        call("b", "/slow")
    elapsed = time.monotonic() - start
    assert elapsed < 5, elapsed
    assert (info.value.deadline, info.value.seconds, info.value.attempts) == ("attempt", 1, 2)
    assert len(peer.requests) == 2
    assert breakers.snapshot()[peer.address].failures == 2  # a slow target is a failing one


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_alone_bounds_the_whole_call(servers: Servers, kind: str) -> None:
    # the documented reading of "timeout=2": the call ends in about 2 s, retries included
    peer = servers("trickler", default=trickle(100, 1.0))
    call = caller(kind, gateway_ctx(peer), timeout=2)  # defaults otherwise: 3 attempts
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        call("b", "/slow")
    assert time.monotonic() - start < 5
    assert (info.value.deadline, info.value.seconds) == ("call", 2)
    per_call = caller(kind, gateway_ctx(peer))  # the connector's default, 10 s, and per call:
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        per_call("b", "/slow", timeout=1.5)
    assert time.monotonic() - start < 4.5
    assert info.value.seconds == 1.5


def test_the_defaults_are_the_documented_10_s() -> None:
    connector = ServiceConnector()
    assert (connector.deadline, connector.attempt_deadline) == (10.0, None)
    assert connector.max_response_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize("kind", KINDS)
def test_per_call_deadline_overrides_the_connector(servers: Servers, kind: str) -> None:
    peer = servers("trickler", default=trickle(100, 1.0))
    call = caller(kind, gateway_ctx(peer), timeout=PATIENT, retry=ONCE, deadline=60)
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        call("b", "/slow", deadline=1.5)
    assert time.monotonic() - start < 4.5
    assert info.value.seconds == 1.5


@pytest.mark.parametrize("kind", KINDS)
def test_a_fast_answer_is_untouched(servers: Servers, kind: str) -> None:
    peer = servers("callee", default=ok({"n": 1}))
    answer = caller(kind, gateway_ctx(peer), deadline=2, attempt_deadline=1)("b", "/")
    assert answer.json()["n"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_streamed_reads_stay_under_the_deadline(servers: Servers, kind: str) -> None:
    peer = servers("trickler", default=trickle(100, 1.0))
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError) as info:
        stream_count(kind, gateway_ctx(peer), "b", "/slow", deadline=2, timeout=PATIENT)
    assert time.monotonic() - start < 5
    assert info.value.deadline == "call"


@pytest.mark.parametrize(
    "action",
    [pytest.param(trickle(100, 0.5), id="body"), pytest.param(trickle_headers(0.5), id="headers")],
)
def test_own_client_is_held_to_the_deadline_too(servers: Servers, action: object) -> None:
    peer = servers("trickler", default=action)
    plain = servers("plain")
    with httpx.Client(timeout=30.0) as client:
        call = caller("sync", gateway_ctx(peer), client=client, retry=ONCE, deadline=1.5)
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            call("b", "/slow")
        assert time.monotonic() - start < 4.5
        # outside connector calls the client works as before
        assert client.get(f"http://{plain.address}/").json()["server"] == "plain"


@pytest.mark.parametrize(
    ("option", "value"),
    [("deadline", 0), ("deadline", -1), ("attempt_deadline", 0), ("max_response_bytes", -1)],
)
def test_option_checks(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        caller("sync", None, **{option: value})


@pytest.mark.parametrize("kind", KINDS)
def test_a_streamed_body_answers_to_the_call_deadline_not_the_attempts(
    servers: Servers, kind: str
) -> None:
    # 40 bytes over ~2 s; each attempt may take 0.5 s, the call 10 s
    peer = servers("trickler", default=trickle(40, 0.05))
    ctx = gateway_ctx(peer)
    limits = {"attempt_deadline": 0.5, "deadline": 10}
    assert stream_count(kind, ctx, "b", "/", **limits) == 40
    with pytest.raises(DeadlineExceededError) as info:  # buffered: the body is in the attempt
        caller(kind, ctx, retry=ONCE)("b", "/", **limits)
    assert (info.value.deadline, info.value.seconds) == ("attempt", 0.5)


@pytest.mark.parametrize(
    ("option", "value"), [("deadline", -1), ("attempt_deadline", 0), ("max_response_bytes", -5)]
)
def test_per_call_option_checks(option: str, value: float) -> None:
    connector = ServiceConnector(make_context(awareness("127.0.0.1:9")))
    with pytest.raises(ValueError, match=option):
        connector.get("b", "/", **{option: value})
