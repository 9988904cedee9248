"""request_data against a real hostile peer, sync and async alike: a gzipped error
envelope, a gzip bomb, a trickling answer, NaN/Infinity (not JSON)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable

import pytest

from soajs.connector import (
    DeadlineExceededError,
    InvalidEnvelopeError,
    ResponseTooLargeError,
    ServiceError,
)
from soajs.connector.envelope import decode_envelope
from tests.connector.loopback import Action, Loopback, _Handler, gzip_bomb, trickle
from tests.connector.test_envelope_decode import _request_data
from tests.connector.twins import KINDS

Servers = Callable[..., Loopback]

NODE_ERROR = {
    "result": False,
    "errors": {"codes": [400], "details": [{"code": 400, "message": "Order not found"}]},
}


def gzipped(code: int, body: bytes) -> Action:
    packed = gzip.compress(body)

    def act(handler: _Handler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed)

    return act


def plain(code: int, body: bytes) -> Action:
    def act(handler: _Handler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return act


@pytest.mark.parametrize("kind", KINDS)
def test_a_gzipped_error_envelope_is_decoded(servers: Servers, kind: str) -> None:
    peer = servers("b", default=gzipped(200, json.dumps(NODE_ERROR).encode()))
    with pytest.raises(ServiceError) as info:
        _request_data(kind, peer)
    assert info.value.codes == (400,) and info.value.message == "Order not found"


@pytest.mark.parametrize("kind", KINDS)
def test_a_gzip_bomb_stays_under_the_cap(servers: Servers, kind: str) -> None:
    peer = servers("b", default=gzip_bomb(50_000_000))
    with pytest.raises(ResponseTooLargeError):
        _request_data(kind, peer, max_response_bytes=1_000_000)


@pytest.mark.parametrize("kind", KINDS)
def test_a_trickling_peer_is_cut_at_the_deadline(servers: Servers, kind: str) -> None:
    peer = servers("b", default=trickle(n=100, every=0.2))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        _request_data(kind, peer, deadline=1.0)
    assert time.monotonic() - started < 3 * 1.0 + 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(servers: Servers, kind: str, constant: bytes) -> None:
    peer = servers("b", default=plain(200, b'{"result":true,"data":{"x":' + constant + b"}}"))
    with pytest.raises(InvalidEnvelopeError):
        _request_data(kind, peer)


def test_nan_in_an_error_answer_is_not_an_envelope() -> None:
    body = b'{"result":false,"errors":{"codes":[NaN,400],"details":[]}}'
    with pytest.raises(ServiceError) as info:
        decode_envelope(500, body, service="b")
    assert info.value.status == 500 and info.value.codes == ()
    with pytest.raises(InvalidEnvelopeError):
        decode_envelope(200, body, service="b")


def _call_in_worker(address: str) -> object:
    from soajs.connector import ServiceConnector
    from tests.connector.conftest import awareness, make_context

    connector = ServiceConnector(make_context(awareness(address)), deadline=5)
    return connector.request_data("b", "GET", "/order")


def test_a_peers_error_crosses_a_process_boundary_intact(servers: Servers) -> None:
    """A ServiceError raised in a ProcessPoolExecutor worker is rebuilt from its pickle."""
    import copy
    from concurrent.futures import ProcessPoolExecutor

    peer = servers("b", default=plain(200, json.dumps(NODE_ERROR).encode()))
    with ProcessPoolExecutor(1) as pool, pytest.raises(ServiceError) as info:
        pool.submit(_call_in_worker, peer.address).result(timeout=60)
    for exc in (info.value, copy.copy(info.value)):
        assert (exc.status, exc.codes, exc.message, exc.service) == (
            200, (400,), "Order not found", "b",
        )  # fmt: skip
        assert "Order not found" in str(exc)
    deadline = DeadlineExceededError(
        "late", service="b", version="1", target="h:1", attempts=2, deadline="call", seconds=1.0
    )
    again = copy.copy(deadline)
    assert (again.attempts, again.deadline, again.target, str(again)) == (2, "call", "h:1", "late")
