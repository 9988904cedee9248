"""The cap on an answer's size, against a real peer sending 300 MB, sync and async.

Finding 3 of issue 12: a 300 MB answer was buffered whole (+607 MiB). Now a
buffered call keeps at most ``max_response_bytes`` (10 MiB by default) and
is cut past it; ``connector.stream()`` takes any size in constant memory.
Memory is the process's peak RSS above its level before the call
(``VmHWM`` after resetting it); the bound is stated in each test.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from soajs.connector import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError, RetryPolicy
from soajs.models import ContextData
from tests.connector.conftest import awareness, make_context
from tests.connector.loopback import Loopback, gzip_bomb, huge
from tests.connector.twins import KINDS, caller, peak_rss_growth_mib, stream_count

Servers = Callable[..., Loopback]
MB300 = 300 * 1000 * 1000
MIB = 1024 * 1024
#: 10 MiB kept, plus the joined copy, plus slack for the interpreter and the server thread
BUFFERED_BOUND_MIB = 64
STREAMED_BOUND_MIB = 32


def ctx(server: Loopback) -> ContextData:
    return make_context(awareness(server.address))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_answer_is_refused_past_the_cap(
    servers: Servers, kind: str, chunked: bool
) -> None:
    peer = servers("big", default=huge(MB300, chunked=chunked))
    call = caller(kind, ctx(peer), retry=RetryPolicy(attempts=3))
    errors: list[ResponseTooLargeError] = []

    def run() -> None:
        with pytest.raises(ResponseTooLargeError) as info:
            call("b", "/dump")
        errors.append(info.value)

    start = time.monotonic()
    growth = peak_rss_growth_mib(run)
    assert time.monotonic() - start < 10
    assert growth < BUFFERED_BOUND_MIB, f"peak RSS grew {growth:.0f} MiB"
    (error,) = errors
    assert error.limit == DEFAULT_MAX_RESPONSE_BYTES
    assert error.target == peer.address
    assert "max_response_bytes" in str(error) and "stream()" in str(error)
    assert len(peer.requests) == 1  # not retried
    if chunked:
        assert error.received > error.limit
        # the peer was cut off long before the end
        assert peer.sent_bytes < 100 * MIB
    else:
        assert error.received == MB300  # refused on its Content-Length, nothing read


@pytest.mark.parametrize("kind", KINDS)
def test_the_cap_is_per_connector_and_per_call(servers: Servers, kind: str) -> None:
    peer = servers("big", default=huge(200_000, chunked=True))
    small = caller(kind, ctx(peer), max_response_bytes=100_000)
    with pytest.raises(ResponseTooLargeError) as info:
        small("b", "/")
    assert info.value.limit == 100_000
    assert len(small("b", "/", max_response_bytes=300_000).content) == 200_000
    assert len(small("b", "/", max_response_bytes=None).content) == 200_000


@pytest.mark.parametrize("kind", KINDS)
def test_a_gzip_bomb_is_capped_once_decoded(servers: Servers, kind: str) -> None:
    peer = servers("bomb", default=gzip_bomb(50 * MIB))  # ~50 KB on the wire
    call = caller(kind, ctx(peer), max_response_bytes=5 * MIB)

    def run() -> None:
        with pytest.raises(ResponseTooLargeError):
            call("b", "/")

    assert peak_rss_growth_mib(run) < BUFFERED_BOUND_MIB


@pytest.mark.parametrize("kind", KINDS)
def test_stream_takes_300_mb_in_constant_memory(servers: Servers, kind: str) -> None:
    peer = servers("big", default=huge(MB300))
    counted: list[int] = []
    growth = peak_rss_growth_mib(
        lambda: counted.append(stream_count(kind, ctx(peer), "b", "/dump", deadline=60))
    )
    assert counted == [MB300]
    assert growth < STREAMED_BOUND_MIB, f"peak RSS grew {growth:.0f} MiB"


@pytest.mark.parametrize("kind", KINDS)
def test_stream_with_a_cap(servers: Servers, kind: str) -> None:
    peer = servers("big", default=huge(MB300, chunked=True))
    with pytest.raises(ResponseTooLargeError) as info:
        stream_count(kind, ctx(peer), "b", "/dump", max_response_bytes=MIB)
    assert info.value.limit == MIB


@pytest.mark.parametrize("kind", KINDS)
def test_a_small_gzip_answer_is_decoded_as_usual(servers: Servers, kind: str) -> None:
    peer = servers("zipped", default=gzip_bomb(300_000))
    answer = caller(kind, ctx(peer), max_response_bytes=400_000)("b", "/")
    assert answer.content == b"\0" * 300_000
    assert answer.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("kind", KINDS)
def test_head_of_a_huge_resource_is_fine(servers: Servers, kind: str) -> None:
    peer = servers("big", default=huge(MB300))
    answer = caller(kind, ctx(peer))("b", "/dump", method="HEAD")
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(MB300)
