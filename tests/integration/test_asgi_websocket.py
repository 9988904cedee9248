"""The ASGI middleware on websocket scopes: real uvicorn + FastAPI, a real websocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from soajs import current_context
from soajs.contrib.fastapi import setup
from soajs.middleware import get_soajs_context
from tests.conftest import FIXTURES
from tests.integration.servers import Served, uvicorn_server

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
TENANT = {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1", "name": "Test Tenant One"}


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()
    setup(app, **options)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        ctx = get_soajs_context(websocket)
        await websocket.accept()
        first = await websocket.receive_text()  # the context survives awaits
        await asyncio.sleep(0)
        await websocket.send_json(
            {
                "first": first,
                "tenant": None
                if ctx is None
                else {"id": ctx.tenant.id, "code": ctx.tenant.code, "name": ctx.tenant.name},
                "scope_is_ctx": websocket.scope.get("soajs", "absent") is ctx,
                "state_is_ctx": getattr(websocket.state, "soajs", "absent") is ctx,
                "current_is_ctx": current_context() is ctx,
                "header_seen": "soajsinjectobj" in websocket.headers,
                "header_in_scope": any(
                    n == b"soajsinjectobj" for n, _ in websocket.scope["headers"]
                ),
            }
        )
        await websocket.close()

    return app


@pytest.fixture(scope="module")
def trusted() -> Iterator[Served]:
    with uvicorn_server(make_app(trusted_gateways="127.0.0.1")) as served:
        yield served


@pytest.fixture(scope="module")
def untrusted() -> Iterator[Served]:
    with uvicorn_server(make_app(trusted_gateways="10.9.9.9")) as served:
        yield served


def talk(served: Served, header: bytes | None) -> dict[str, Any]:
    headers = [] if header is None else [("soajsinjectobj", header.decode("latin-1"))]
    with connect(f"ws://127.0.0.1:{served.port}/ws", additional_headers=headers) as ws:
        ws.send("hello")
        answer = json.loads(ws.recv(timeout=10))
    assert answer.pop("first") == "hello"
    return dict(answer)


def test_websocket_gets_the_gateway_context_everywhere(trusted: Served) -> None:
    assert talk(trusted, RAW) == {
        "tenant": TENANT,
        "scope_is_ctx": True,
        "state_is_ctx": True,
        "current_is_ctx": True,
        "header_seen": True,
        "header_in_scope": True,
    }


def test_websocket_without_header_has_no_context(trusted: Served) -> None:
    answer = talk(trusted, None)
    assert answer["tenant"] is None
    assert answer["current_is_ctx"] is True  # current_context() is None too
    assert answer["scope_is_ctx"] is True


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b'{"tenant": {"id": "x"}}', id="no-code"),
        pytest.param(b'{"a": NaN}', id="nan"),
        pytest.param(b"[" * 500 + b"]" * 500, id="deep"),
        pytest.param(b"%7B%ZZ", id="bad-percent"),
    ],
)
def test_websocket_with_a_bad_header_has_no_context_and_still_works(
    trusted: Served, header: bytes
) -> None:
    answer = talk(trusted, header)
    assert answer["tenant"] is None
    assert answer["current_is_ctx"] is True


def test_websocket_from_an_untrusted_peer_ignores_and_strips_the_header(untrusted: Served) -> None:
    forged = b'{"tenant": {"id": "FORGED", "code": "EVIL"}}'
    assert talk(untrusted, forged) == {
        "tenant": None,
        "scope_is_ctx": True,
        "state_is_ctx": True,
        "current_is_ctx": True,
        "header_seen": False,
        "header_in_scope": False,
    }


def test_strict_mode_refuses_a_websocket_without_context() -> None:
    with uvicorn_server(make_app(trusted_gateways="*", strict=True)) as served:
        assert talk(served, RAW)["tenant"] == TENANT
        with pytest.raises(InvalidStatus) as refused:
            talk(served, None)
        assert refused.value.response.status_code in (400, 403)
        if refused.value.response.status_code == 400:  # the server has websocket.http.response
            assert refused.value.response.headers["content-type"] == "application/problem+json"
