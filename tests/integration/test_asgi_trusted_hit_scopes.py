"""Odd ASGI scopes against the listed-gateway cache-hit path, called directly.

Servers differ in what they put in a scope: no ``client`` at all, ``None``,
``("", 0)``, a unix socket path, an IPv4-mapped IPv6 peer, headers as lists
rather than tuples, ``bytearray`` names. Once the gateway's header is cached,
none of these may get a context unless its peer is listed; an ignored header
is removed and counted as the long path counts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from soajs.context import Reason
from soajs.middleware import SOAJSMiddleware
from soajs.observability import counters
from soajs.testing.headers import make_inject_header

GOOD = make_inject_header().encode()
NAME = b"soajsinjectobj"
_MISSING = object()


class _Seen:
    def __init__(self) -> None:
        self.scope: MutableMapping[str, Any] = {}

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope


def _call(app: SOAJSMiddleware, headers: list[Any], client: Any) -> MutableMapping[str, Any]:
    seen = _Seen()
    app.app = seen
    scope: dict[str, Any] = {"type": "http", "path": "/", "method": "GET", "headers": headers}
    if client is not _MISSING:
        scope["client"] = client

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    asyncio.run(app(scope, receive, send))
    return seen.scope


def _count(reason: Reason) -> int:
    headers = counters.HEADERS
    assert headers is not None
    index = counters.REASON_INDEX[reason]
    return headers[index] + headers[index + 1]


@pytest.fixture
def app() -> SOAJSMiddleware:
    middleware = SOAJSMiddleware(_Seen(), trusted_gateways="127.0.0.2", health=False)
    scope = _call(middleware, [(NAME, GOOD)], ("127.0.0.2", 5000))  # cached from the gateway
    assert scope["soajs"] is not None
    return middleware


@pytest.mark.parametrize(
    "client",
    [_MISSING, None, ("", 0), ("/run/app.sock", 0), ("127.0.0.3", 1), ("::ffff:127.0.0.3", 1)],
    ids=["missing", "none", "empty", "unix", "other", "mapped-other"],
)
@pytest.mark.parametrize("shape", ["tuple", "list", "bytearray"])
def test_a_cached_header_from_an_unlisted_or_unknown_peer_is_ignored_and_removed(
    app: SOAJSMiddleware, client: Any, shape: str
) -> None:
    name = bytearray(NAME) if shape == "bytearray" else NAME
    header = [name, GOOD] if shape == "list" else (name, GOOD)
    before = _count(Reason.UNTRUSTED)
    for _ in range(2):
        scope = _call(app, [(b"host", b"svc"), header], client)
        assert scope["soajs"] is None
        assert [bytes(n) for n, _ in scope["headers"]] == [b"host"]
    assert _count(Reason.UNTRUSTED) - before == 2


@pytest.mark.parametrize("shape", ["tuple", "list", "bytearray"])
def test_a_listed_peer_gets_the_cached_context_whatever_the_headers_shape(
    app: SOAJSMiddleware, shape: str
) -> None:
    name = bytearray(NAME) if shape == "bytearray" else NAME
    header = [name, GOOD] if shape == "list" else (name, GOOD)
    for client in (("127.0.0.2", 1), ("::ffff:127.0.0.2", 1), ["127.0.0.2", 1]):
        assert _call(app, [header], client)["soajs"] is not None


def test_a_forwarding_header_of_any_bytes_type_sends_the_gateway_the_long_way(
    app: SOAJSMiddleware,
) -> None:
    before = _count(Reason.PROXY_REWRITTEN_PEER)
    for name in (b"x-forwarded-for", bytearray(b"x-forwarded-for"), b"x-real-ip"):
        scope = _call(app, [(NAME, GOOD), (name, b"127.0.0.2")], ("127.0.0.2", 0))
        assert scope["soajs"] is None
        assert NAME not in [bytes(n) for n, _ in scope["headers"]]
    assert _count(Reason.PROXY_REWRITTEN_PEER) - before == 3


def test_an_upper_case_name_is_not_the_header_as_asgi_names_are_lower_case(
    app: SOAJSMiddleware,
) -> None:
    scope = _call(app, [(b"SoajsInjectObj", GOOD)], ("127.0.0.2", 1))
    assert scope["soajs"] is None
    assert scope["headers"] == [(b"SoajsInjectObj", GOOD)]
