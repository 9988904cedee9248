"""Header names that are bytes-like but not ``bytes``, on the restricted-trust loop.

The loop looks each name up in a frozenset; names that cannot be hashed go
the way of comparisons. Whatever the type of a name, the request must be
judged exactly as if the name were ``bytes`` (as it was before the set
lookup): same context, same headers left for the app, and no exception.
A server hands ``bytes``; an ASGI middleware in front may rebuild the list
with ``bytearray`` or ``memoryview`` names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest

from soajs.middleware import SOAJSMiddleware
from soajs.testing.headers import make_inject_header

GOOD = make_inject_header().encode()
NAME = b"soajsinjectobj"
GATEWAY = ("127.0.0.2", 5000)
OTHER = ("127.0.0.9", 5000)

Shape = Callable[[bytes], Any]

HASHABLE: dict[str, Shape] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "readonly-memoryview": memoryview,
}
WRITABLE_MEMORYVIEW: Shape = lambda name: memoryview(bytearray(name))  # noqa: E731


class _Seen:
    def __init__(self) -> None:
        self.scope: MutableMapping[str, Any] | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _judge(
    headers: list[tuple[Any, bytes]], client: Any, *, strict: bool = False
) -> tuple[str | None, list[bytes], int]:
    """(tenant code or None, the header names the app saw, the status sent)."""
    seen = _Seen()
    middleware = SOAJSMiddleware(
        seen, trusted_gateways="127.0.0.2", health=False, maintenance_listener=False, strict=strict
    )
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/", "method": "GET", "headers": headers, "client": client}
    asyncio.run(middleware(scope, receive, send))
    status = sent[0]["status"]
    if seen.scope is None:
        return None, [], status
    context = seen.scope["soajs"]
    names = [bytes(n) for n, _ in seen.scope["headers"]]
    return (None if context is None else context.tenant.code), names, status


def _cases(shape: Shape) -> list[tuple[str, list[tuple[Any, bytes]], Any]]:
    return [
        ("header", [(shape(NAME), GOOD)], GATEWAY),
        ("header-other-peer", [(shape(NAME), GOOD)], OTHER),
        ("other-name-after", [(NAME, GOOD), (shape(b"x-trace"), b"1")], GATEWAY),
        ("other-name-before", [(shape(b"x-trace"), b"1"), (NAME, GOOD)], GATEWAY),
        ("forwarding-name", [(NAME, GOOD), (shape(b"x-forwarded-for"), b"127.0.0.2")], GATEWAY),
        ("real-ip-name", [(NAME, GOOD), (shape(b"x-real-ip"), b"127.0.0.2")], GATEWAY),
        ("twice", [(shape(NAME), GOOD), (NAME, GOOD)], GATEWAY),
    ]


def _expected() -> dict[str, tuple[str | None, list[bytes], int]]:
    return {case: _judge(headers, client) for case, headers, client in _cases(bytes)}


@pytest.mark.parametrize("shape", sorted(HASHABLE))
def test_a_bytes_like_name_is_judged_as_its_bytes(shape: str) -> None:
    expected = _expected()
    assert expected["header"][0] == "TST1" and expected["header-other-peer"][0] is None
    assert expected["forwarding-name"][0] is None and expected["twice"][0] is None
    for case, headers, client in _cases(HASHABLE[shape]):
        assert _judge(headers, client) == expected[case], case


def test_a_writable_memoryview_name_is_judged_as_its_bytes() -> None:
    expected = _expected()
    for case, headers, client in _cases(WRITABLE_MEMORYVIEW):
        assert _judge(headers, client) == expected[case], case


def test_strict_mode_answers_400_not_an_exception_for_an_odd_name_from_another_peer() -> None:
    for shape in HASHABLE.values():
        context, _, status = _judge([(shape(NAME), GOOD)], OTHER, strict=True)
        assert (context, status) == (None, 400)
