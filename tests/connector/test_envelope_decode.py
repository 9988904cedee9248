"""Decoding another service's envelope: data, errors, and hostile bodies from a real peer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from soajs.connector import (
    AsyncServiceConnector,
    InvalidEnvelopeError,
    ServiceConnector,
    ServiceError,
    transport,
    unwrap,
)
from soajs.connector.envelope import decode_envelope
from soajs.response import MAX_CODES, MAX_MESSAGE_CHARS
from tests.connector.conftest import awareness, make_context
from tests.connector.loopback import Action, Loopback, _Handler
from tests.connector.twins import KINDS

Servers = Callable[..., Loopback]

NODE_ERROR = {
    "result": False,
    "errors": {"codes": [400], "details": [{"code": 400, "message": "Order not found"}]},
}


def raw(code: int, body: bytes, content_type: str = "application/json") -> Action:
    def act(handler: _Handler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return act


def decode(status: int, body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_envelope(status, data, service="orders", version="1")


def test_result_true_gives_the_data() -> None:
    assert decode(200, {"result": True, "data": {"id": 7}}) == {"id": 7}
    assert decode(201, {"result": True}) is None


@pytest.mark.parametrize("status", [200, 400, 500])
def test_result_false_is_an_error_whatever_the_status(status: int) -> None:
    with pytest.raises(ServiceError) as info:
        decode(status, NODE_ERROR)
    exc = info.value
    assert (exc.status, exc.codes) == (status, (400,))
    assert exc.details == ({"code": 400, "message": "Order not found"},)
    assert exc.message == "Order not found"
    assert exc.service == "orders" and exc.version == "1"
    assert "Order not found" in str(exc) and "orders" in str(exc)
    assert not isinstance(exc, InvalidEnvelopeError)


def test_the_gateways_own_error_fixture() -> None:
    with pytest.raises(ServiceError) as info:
        decode(404, {"result": False, "errors": {"codes": [130], "details": [
            {"code": 130, "message": "Unknown service."}]}})  # fmt: skip
    assert info.value.codes == (130,) and info.value.message == "Unknown service."


def test_failures_by_the_protocol() -> None:
    with pytest.raises(ServiceError) as info:  # a non-2xx status with result true
        decode(503, {"result": True, "data": 1})
    assert info.value.message == "HTTP 503" and info.value.codes == ()
    with pytest.raises(ServiceError) as info:  # result true with details
        decode(200, {"result": True, "errors": {"details": [{"code": 5, "message": "m"}]}})
    assert info.value.codes == (5,)
    with pytest.raises(ServiceError) as info:  # result false with nothing more
        decode(200, {"result": False})
    assert "no error message" in info.value.message
    with pytest.raises(ServiceError) as info:  # not JSON, error status
        decode(502, b"<html>bad gateway</html>")
    assert type(info.value) is ServiceError and info.value.status == 502


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[1,2]", b"null", b'{"result": "true"}', b'{"data": 1}',
     b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
    ids=["empty", "text", "not-utf8", "list", "null", "string-result", "no-result",
         "deep-list", "deep-object"],
)  # fmt: skip
def test_a_2xx_that_is_not_an_envelope(body: bytes) -> None:
    with pytest.raises(InvalidEnvelopeError) as info:
        decode(200, body)
    assert info.value.status == 200 and info.value.codes == ()


def test_a_body_over_max_bytes_is_not_parsed() -> None:
    body = json.dumps({"result": True, "data": "x" * 1000}).encode()
    with pytest.raises(InvalidEnvelopeError):
        decode_envelope(200, body, service="s", max_bytes=100)


@pytest.mark.parametrize(
    "errors",
    [
        {"codes": "400", "details": "boom"},
        {"codes": {"a": 1}, "details": {"code": 1}},
        {"codes": [True, None, -3, 0, 1.5, "x", [], {}], "details": [1, "s", None, [], {}]},
        "not a dict",
        None,
    ],
)
def test_wrong_types_are_dropped(errors: Any) -> None:
    with pytest.raises(ServiceError) as info:
        decode(200, {"result": False, "errors": errors})
    assert info.value.codes == () and info.value.details == ()


def test_codes_as_digit_strings_and_details_coerced() -> None:
    with pytest.raises(ServiceError) as info:
        decode(200, {"result": False, "errors": {"codes": ["401", 402, 402], "details": [
            {"code": "401", "message": 12}, {"code": None, "message": "no code"},
            {"code": 9, "message": {"nested": "dict"}}]}})  # fmt: skip
    exc = info.value
    assert exc.codes == (401, 402, 9)
    assert exc.details == (
        {"code": 401, "message": "12"},
        {"code": None, "message": "no code"},
        {"code": 9, "message": ""},
    )


def test_a_million_codes_and_details_are_capped() -> None:
    hostile = "m" * 2000 + "\n\x1b[31m"
    details = [{"code": c, "message": hostile} for c in range(1, 1000)]
    body = {"result": False, "errors": {"codes": list(range(1, 10**6)), "details": details}}
    with pytest.raises(ServiceError) as info:
        decode(200, body)
    exc = info.value
    assert len(exc.codes) == MAX_CODES and len(exc.details) == MAX_CODES
    assert all(len(str(d["message"])) <= MAX_MESSAGE_CHARS for d in exc.details)
    assert "\x1b" not in str(exc) and "\n" not in str(exc)


def test_unwrap_names_the_host_without_a_service() -> None:
    request = httpx.Request("GET", "http://orders.local:4381/x")
    answer = httpx.Response(200, json=NODE_ERROR, request=request)
    with pytest.raises(ServiceError, match=r"orders\.local"):
        unwrap(answer)
    assert unwrap(httpx.Response(200, json={"result": True, "data": 3}, request=request)) == 3
    with pytest.raises(ServiceError, match="'\\?'"):
        unwrap(httpx.Response(200, json=NODE_ERROR))


# ---------------------------------------------------------------- a real hostile peer
HOSTILE: list[tuple[str, int, bytes]] = [
    ("node-200-error", 200, json.dumps(NODE_ERROR).encode()),
    ("million-codes", 200, json.dumps(
        {"result": False, "errors": {"codes": list(range(1, 10**6)), "details": []}}).encode()),
    ("deep", 200, b"[" * 200_000 + b"]" * 200_000),
    ("types", 500, b'{"result": false, "errors": {"codes": 7, "details": [[], 1]}}'),
    ("html", 503, b"<html>down</html>"),
]  # fmt: skip


def _request_data(kind: str, peer: Loopback, **options: Any) -> Any:
    context = make_context(awareness(peer.address))
    if kind == "sync":
        return ServiceConnector(context, **options).request_data("b", "GET", "/order")

    async def main() -> Any:
        try:
            return await AsyncServiceConnector(context, **options).request_data(
                "b", "GET", "/order"
            )
        finally:
            await transport.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_request_data_against_a_real_peer(servers: Servers, kind: str) -> None:
    peer = servers("b", default=raw(200, b'{"result":true,"data":{"id":7}}'))
    assert _request_data(kind, peer) == {"id": 7}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("name", "status", "body"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_envelopes_from_a_real_peer(
    servers: Servers, kind: str, name: str, status: int, body: bytes
) -> None:
    peer = servers("b", default=raw(status, body))
    with pytest.raises(ServiceError) as info:
        _request_data(kind, peer)
    exc = info.value
    assert exc.status == status and exc.service == "b"
    assert len(exc.codes) <= MAX_CODES and len(str(exc)) < 4 * MAX_MESSAGE_CHARS
    if name == "node-200-error":
        assert exc.codes == (400,) and exc.message == "Order not found"
    if name == "million-codes":
        assert exc.codes == tuple(range(1, MAX_CODES + 1))
    if name == "deep":
        assert isinstance(exc, InvalidEnvelopeError)
