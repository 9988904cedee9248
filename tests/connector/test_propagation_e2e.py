"""Trace headers and credentials cross services through the real middlewares.

A handler behind uvicorn + FastAPI (async connector) or werkzeug + Flask (sync
connector) calls service ``b`` through a recording gateway stand-in: the
request's ``traceparent`` / ``x-request-id`` and ``Authorization`` arrive there,
the inject header does not. The next request on the same
server thread carries only its own headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from flask import Flask

from soajs.connector import AsyncServiceConnector, ServiceConnector, aclose
from soajs.connector.propagation import current_inbound
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from tests.connector.conftest import E_KEY, awareness, inject_object
from tests.connector.loopback import Loopback
from tests.integration.servers import uvicorn_server, werkzeug_server

Servers = Callable[..., Loopback]

INBOUND = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "x-request-id": "req-42",
    "authorization": "Bearer user-token",
}


def header_for(gateway: Loopback) -> bytes:
    return json.dumps(inject_object(awareness(gateway.address))).encode()


def assert_forwarded(gateway: Loopback) -> None:
    (seen,) = gateway.requests
    assert seen.path == "/b/v1/orders"
    assert seen.headers["key"] == E_KEY
    for name, value in INBOUND.items():
        assert seen.headers[name] == value
    assert "soajsinjectobj" not in seen.headers


def test_asgi_request_headers_reach_the_gateway(servers: Servers) -> None:
    gateway = servers("gateway")
    app = FastAPI()
    setup(app, trusted_gateways="*", health=False)

    @app.get("/call")
    async def call() -> Any:
        answer = await AsyncServiceConnector().get("b", "/orders", version="1")
        await aclose()
        return answer.json()

    with uvicorn_server(app) as served:
        response = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers={**INBOUND, "soajsinjectobj": header_for(gateway).decode()},
        )
    assert response.status_code == 200, response.text
    assert response.json()["server"] == "gateway"
    assert_forwarded(gateway)


def test_wsgi_request_headers_reach_the_gateway_and_not_the_next_request(
    servers: Servers,
) -> None:
    gateway = servers("gateway")
    app = Flask(__name__)
    SOAJS(app, trusted_gateways="*", health=False)

    @app.get("/call")
    def call() -> Any:
        return ServiceConnector().get("b", "/orders", version="1").json()

    @app.get("/peek")
    def peek() -> Any:
        inbound = current_inbound()
        assert inbound is not None
        return {"carried": [name.decode() for name, _ in inbound.gateway_pairs]}

    with werkzeug_server(app, threaded=False) as served:  # one thread serves both requests
        response = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers={**INBOUND, "soajsinjectobj": header_for(gateway).decode()},
        )
        assert response.status_code == 200, response.text
        assert_forwarded(gateway)
        later = httpx.get(f"http://127.0.0.1:{served.port}/peek", headers={"x-request-id": "r2"})
    assert later.json() == {"carried": ["x-request-id"]}
    assert current_inbound() is None  # and nothing outside a request
