"""The ASGI middleware's tracing path when ``tracing.attach_asgi`` itself raises.

``attach_asgi`` never raises by design (it catches and logs), but if it ever
does (a broken OpenTelemetry propagator patched in, a future change) the
request's context must not stay current in the caller's context: the next
scope handled in that context (a server reusing it, a test calling the app
twice) would see another request's tenant. The reset is in an outer
``finally`` since rt-13c; before, the request failed *and* leaked.
"""

from __future__ import annotations

import asyncio
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from soajs import current_context
from soajs.middleware import SOAJSMiddleware
from soajs.observability import tracing
from soajs.testing.headers import make_inject_header

GOOD = make_inject_header().encode()


class _Broken(RuntimeError):
    pass


def _scope(kind: str = "http", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": kind, "path": "/", "method": "GET", "client": ("127.0.0.1", 1),
        "headers": [(b"soajsinjectobj", GOOD)] if headers is None else headers,
    }  # fmt: skip


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: Any) -> None:
    pass


@pytest.fixture
def attach_raises(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A provider looks set, and attach_asgi raises; the app records what it saw."""
    calls: list[Any] = []

    def attach(scope: Any) -> Any:
        calls.append("attach")
        raise _Broken("propagator exploded")

    monkeypatch.setattr(tracing, "api", SimpleNamespace(_TRACER_PROVIDER=object()))
    monkeypatch.setattr(tracing, "attach_asgi", attach)
    monkeypatch.setattr(tracing, "detach", lambda token: calls.append(("detach", token)))
    return calls


def test_the_context_is_reset_when_attach_raises(attach_raises: list[Any]) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_context())

    middleware = SOAJSMiddleware(app, trusted_gateways="*", health=False)

    async def two_requests() -> tuple[Any, Any]:
        with pytest.raises(_Broken):
            await middleware(_scope(), _receive, _send)
        after_failure = current_context()
        # the same context handles another scope: no tenant may be current there
        await middleware({"type": "custom"}, _receive, _send)
        return after_failure, seen[-1]

    after_failure, in_next = asyncio.run(two_requests())
    assert after_failure is None
    assert in_next is None
    assert attach_raises == ["attach"]  # no app call, nothing to detach


def test_detach_runs_before_the_reset_when_the_app_raises(attach_raises: list[Any]) -> None:
    tokens: list[Any] = []

    def attach(scope: Any) -> Any:
        tokens.append(object())
        return tokens[-1]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert current_context() is not None
        raise _Broken("handler")

    middleware = SOAJSMiddleware(app, trusted_gateways="*", health=False)

    async def run() -> Any:
        tracing.attach_asgi = attach  # the fixture restores it
        with pytest.raises(_Broken):
            await middleware(_scope(), _receive, _send)
        return current_context()

    assert asyncio.run(run()) is None
    assert attach_raises == [("detach", tokens[0])]


def test_without_opentelemetry_the_stand_in_is_a_module_without_a_provider() -> None:
    assert isinstance(tracing._NoApi, ModuleType)
    assert tracing._NoApi._TRACER_PROVIDER is None
