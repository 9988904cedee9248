"""The paths the ASGI middleware answers itself, and strict refusals, under real uvicorn.

``core.own_paths`` holds every path until the first request, then exactly the
health paths and /metrics: whatever the first request over a real socket
(a probe on /heartbeat, a scrape of /metrics, the app), it must be answered
where it was before, and every later one too. Run on both HTTP parsers
(h11, httptools), websockets on uvicorn's websockets-sansio.
The client picks its source address on loopback: 127.0.0.2 is the gateway.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from soajs import current_context
from soajs.middleware import SOAJSMiddleware
from soajs.testing.headers import make_inject_header
from tests.integration.servers import uvicorn_server

GOOD = make_inject_header()
GATEWAY = "127.0.0.2"
OTHER = "127.0.0.3"
OWN = ("/heartbeat", "/ready", "/metrics")


def _tenant() -> str | None:
    context = current_context()
    return None if context is None else context.tenant.code


async def page(request: Request) -> JSONResponse:
    return JSONResponse({"app": request.url.path, "tenant": _tenant()})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(json.dumps({"tenant": _tenant()}))
    await websocket.close()


def make_app(**options: Any) -> SOAJSMiddleware:
    starlette = Starlette(
        routes=[WebSocketRoute("/ws", ws), Route("/{path:path}", page, methods=["GET", "POST"])]
    )
    options.setdefault("trusted_gateways", GATEWAY)
    options.setdefault("metrics_on_service_port", True)
    return SOAJSMiddleware(
        starlette, None, readiness_path="/ready", maintenance_listener=False, **options
    )


@contextmanager
def serve(middleware: SOAJSMiddleware, http: str) -> Iterator[str]:
    with uvicorn_server(middleware, http=http, proxy_headers=False) as served:
        yield f"http://127.0.0.1:{served.port}"


def client(source: str) -> httpx.Client:
    return httpx.Client(timeout=10, transport=httpx.HTTPTransport(local_address=source))


def assert_own(response: httpx.Response, path: str) -> None:
    assert response.status_code == 200, (path, response.text)
    if path == "/metrics":
        assert response.headers["content-type"].startswith("text/plain")
        assert "soajs_" in response.text
    else:
        body = response.json()
        assert body["result"] is True and body["service"]["route"] == path


@pytest.mark.parametrize("http", ["h11", "httptools"])
@pytest.mark.parametrize("first", ["/heartbeat", "/ready", "/metrics", "/api/x"])
def test_the_very_first_request_is_answered_where_it_was_and_so_is_every_later_one(
    http: str, first: str
) -> None:
    middleware = make_app()
    with serve(middleware, http) as url, client(GATEWAY) as gateway, client(OTHER) as other:
        assert middleware.core.first
        response = gateway.get(url + first, headers={"soajsinjectobj": GOOD})
        assert not middleware.core.first  # the first request was noted, whatever its path
        if first in OWN:
            assert_own(response, first)
        else:
            assert response.json() == {"app": first, "tenant": "TST1"}
        for path in (*OWN, "/", "/heartbeat/", "/metricsx", "/HEARTBEAT", "/reloadRegistryx"):
            for peer, tenant in ((gateway, "TST1"), (other, None)):
                response = peer.get(url + path, headers={"soajsinjectobj": GOOD})
                if path in OWN:
                    assert_own(response, path)
                else:
                    assert response.json() == {"app": path, "tenant": tenant}, path
        # a method the health paths do not answer reaches the app
        posted = gateway.post(url + "/heartbeat", headers={"soajsinjectobj": GOOD})
        assert posted.json() == {"app": "/heartbeat", "tenant": "TST1"}


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_with_health_and_metrics_off_every_path_reaches_the_app(http: str) -> None:
    middleware = make_app(health=False, metrics_on_service_port=False)
    with serve(middleware, http) as url, client(GATEWAY) as gateway:
        for path in ("/heartbeat", *OWN, "/reloadRegistry"):
            response = gateway.get(url + path, headers={"soajsinjectobj": GOOD})
            assert response.json() == {"app": path, "tenant": "TST1"}


def _handshake(url: str, source: str, header: str | None) -> Any:
    """The tenant the websocket app saw, or the refused handshake's status."""
    port = httpx.URL(url).port
    assert port is not None
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    headers = {} if header is None else {"soajsinjectobj": header}
    try:
        with connect(
            url.replace("http://", "ws://") + "/ws", sock=sock, additional_headers=headers
        ) as conn:
            return json.loads(conn.recv(timeout=10))["tenant"]
    except InvalidStatus as refused:
        return refused.response.status_code
    finally:
        sock.close()


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_strict_mode_refuses_a_handshake_without_a_believed_header(http: str) -> None:
    middleware = make_app(strict=True)
    with serve(middleware, http) as url:
        # the very first scope is a refused websocket: refused, and noted as the first
        assert _handshake(url, OTHER, GOOD) in (400, 403)
        assert not middleware.core.first
        for _ in range(2):  # the second time, the header is cached
            assert _handshake(url, GATEWAY, GOOD) == "TST1"
            assert _handshake(url, OTHER, GOOD) in (400, 403)  # unlisted peer
            assert _handshake(url, GATEWAY, None) in (400, 403)  # no header
            assert _handshake(url, GATEWAY, "{not json") in (400, 403)  # a bad header
        with client(GATEWAY) as gateway:
            assert_own(gateway.get(url + "/heartbeat"), "/heartbeat")  # no header needed
            refused = gateway.get(url + "/api")
            assert refused.status_code == 400
            assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_a_websocket_handshake_on_metrics_is_not_a_server_error(http: str) -> None:
    with serve(make_app(trusted_gateways="*"), http) as url:
        for path in ("/heartbeat", "/metrics"):  # the app has no websocket route there
            port = httpx.URL(url).port
            ws_url = f"ws://127.0.0.1:{port}{path}"
            with pytest.raises(InvalidStatus) as refused:
                connect(ws_url).close()
            assert refused.value.response.status_code != 500, path
