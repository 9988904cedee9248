"""The ASGI middleware's inlined cache-hit path keeps every promise of the full path.

Under a real uvicorn server, with ``trusted_gateways="*"`` (the case the fast
path serves): cache hits are counted as hits, cached refusals are counted and
refused again, duplicates and public services take the full path, and a
handler cannot change the cached context the next request gets.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soajs import current_context
from soajs.middleware import SOAJSMiddleware
from soajs.testing.headers import make_inject_header
from tests.integration.servers import uvicorn_server
from tests.observability.test_exposition import Key, header_key, parse


async def show(request: Request) -> PlainTextResponse:
    context = request.scope.get("soajs")
    state = request.state.soajs
    current = current_context()
    seen = request.headers.get("soajsinjectobj") is not None
    if context is not None:
        with contextlib.suppress(Exception):  # refused: the context is immutable
            context.tenant.code = "HACKED"
    return PlainTextResponse(
        json.dumps(
            {
                "tenant": None if context is None else context.tenant.code,
                "same": context is state and context is current,
                "header_seen": seen,
            }
        )
    )


def app(**options: Any) -> SOAJSMiddleware:
    return SOAJSMiddleware(
        Starlette(routes=[Route("/", show)]),
        trusted_gateways="*",
        health=False,
        metrics_on_service_port=True,
        **options,
    )


def test_cache_hits_and_cached_refusals_are_counted_and_served_as_before() -> None:
    good = make_inject_header()
    with uvicorn_server(app()) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        before = parse(client.get(base + "/metrics").text)
        answers = [
            client.get(base + "/", headers={"soajsinjectobj": value}).json()
            for value in (good, good, good, "not json{", "not json{", "[1]")
        ]
        after = parse(client.get(base + "/metrics").text)

    def delta(key: Key) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    code = json.loads(good)["tenant"]["code"]
    for answer in answers[:3]:  # the cached context is the same, and unchanged
        assert answer == {"tenant": code, "same": True, "header_seen": True}
    for answer in answers[3:]:
        assert answer["tenant"] is None
    assert delta(header_key("accepted", "ok")) == 3
    assert delta(header_key("refused", "not_json")) == 2
    assert delta(header_key("refused", "not_an_object")) == 1
    assert delta(("soajs_context_cache_hits_total", (("reason", "ok"),))) == 2
    assert delta(("soajs_context_cache_hits_total", (("reason", "not_json"),))) == 1
    assert current_context() is None


def test_a_duplicate_header_is_refused_even_when_its_value_is_cached() -> None:
    good = make_inject_header()
    with uvicorn_server(app()) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        assert client.get(base + "/", headers={"soajsinjectobj": good}).json()["tenant"]
        twice = [("soajsinjectobj", good), ("soajsinjectobj", good)]
        for _ in range(2):
            assert client.get(base + "/", headers=twice).json()["tenant"] is None
        assert client.get(base + "/", headers={"soajsinjectobj": good}).json()["tenant"]


def test_a_public_service_ignores_and_removes_the_header_on_every_request() -> None:
    good = make_inject_header()
    with uvicorn_server(app(public_service=True)) as served, httpx.Client(timeout=10) as c:
        base = f"http://127.0.0.1:{served.port}"
        for _ in range(3):
            answer = c.get(base + "/", headers={"soajsinjectobj": good}).json()
            assert answer == {"tenant": None, "same": True, "header_seen": False}


def test_strict_mode_refuses_a_cached_refusal_every_time() -> None:
    with uvicorn_server(app(strict=True)) as served, httpx.Client(timeout=10) as client:
        base = f"http://127.0.0.1:{served.port}"
        for _ in range(3):
            assert client.get(base + "/", headers={"soajsinjectobj": "[1]"}).status_code == 400
        good = make_inject_header()
        for _ in range(2):
            assert client.get(base + "/", headers={"soajsinjectobj": good}).status_code == 200
