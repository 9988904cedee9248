"""The ASGI middleware's one lookup for the paths it answers itself.

``AdapterCore.own_paths`` holds every path until the first request (so the
first request, whatever its path, tells the core this process serves), then
exactly the health paths and, when on, /metrics. The hot path tests only
``scope["path"] in core.own_paths``: these check that no request is answered
or missed because of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from soajs.middleware import SOAJSMiddleware
from soajs.middleware.core import AdapterCore


def test_own_paths_are_every_path_until_the_first_request_then_the_answered_ones() -> None:
    core = AdapterCore(None, "test", trusted_gateways="*", metrics_on_service_port=True)
    assert core.first
    assert "/anything" in core.own_paths and "/" in core.own_paths
    core.first_request(None)
    assert not core.first
    assert core.health is not None
    answered = {"/heartbeat", "/reloadRegistry", core.health.readiness_path, "/metrics"}
    assert core.own_paths == frozenset(answered)


def test_without_health_or_metrics_no_path_is_the_middleware_s_own() -> None:
    core = AdapterCore(None, "test", trusted_gateways="*", health=False)
    core.first_request(None)
    assert core.own_paths == frozenset()
    assert "/heartbeat" not in core.own_paths


class _Recorder:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})


def _call(mw: SOAJSMiddleware, path: str, kind: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": kind, "path": path, "method": "GET", "headers": [],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    asyncio.run(mw(scope, receive, send))
    return sent


@pytest.mark.parametrize("first", ["/", "/heartbeat", "/metrics", "/api/x"])
def test_whatever_the_first_path_the_core_learns_it_and_later_paths_go_where_they_did(
    first: str,
) -> None:
    app = _Recorder()
    mw = SOAJSMiddleware(app, None, trusted_gateways="*", metrics_on_service_port=True)
    _call(mw, first)
    assert not mw.core.first  # the first request was seen, whatever its path
    for path in ("/", "/api/x", "/heartbeat", "/metrics", "/heartbeat/", "/metricsx"):
        before = len(app.paths)
        sent = _call(mw, path)
        answered_by_us = len(app.paths) == before
        assert answered_by_us == (path in ("/heartbeat", "/metrics")), path
        assert sent[0]["status"] == 200


def test_a_health_path_with_health_off_reaches_the_app() -> None:
    app = _Recorder()
    mw = SOAJSMiddleware(app, None, trusted_gateways="*", health=False)
    for _ in range(2):  # the first request, then the steady state
        _call(mw, "/heartbeat")
    assert app.paths == ["/heartbeat", "/heartbeat"]
