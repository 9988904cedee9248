"""The errors map and response_format come from the service's Config through its
RegistryManager, with no map passed to the handlers: FastAPI (setup) and Flask (SOAJS)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from flask import Flask

from soajs import Config, RegistryManager
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.response import SoajsError, build_response
from soajs.response import flask as flask_envelope
from soajs.response import starlette as starlette_envelope
from soajs.testing.registry import make_registry_data
from tests.integration.servers import uvicorn_server, werkzeug_server

CONFIG = Config(
    name="orders",
    group="Shop",
    port=4381,
    errors={"400": "Order not found", "164": "Orders failed"},
    response_format="envelope",
)
OPTIONS: dict[str, Any] = {"trusted_gateways": "*", "health": False, "strict": True}


def manager() -> RegistryManager:
    return RegistryManager.from_dict(make_registry_data(), "orders", config=CONFIG)


def fastapi_app() -> FastAPI:
    app = FastAPI()
    setup(app, registry=manager(), **OPTIONS)
    starlette_envelope.install_handlers(app, unhandled=True)

    @app.get("/known")
    def known() -> Any:
        raise SoajsError(400, status=404)

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("no")

    @app.get("/ok")
    def ok() -> Any:
        return starlette_envelope.envelope_response({"id": 1}, status=201)

    return app


def flask_app() -> Flask:
    app = Flask(__name__)
    SOAJS(app, registry=manager(), **OPTIONS)
    flask_envelope.install_handlers(app, unhandled=True)

    @app.get("/known")
    def known() -> Any:
        raise SoajsError(400, status=404)

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("no")

    @app.get("/ok")
    def ok() -> Any:
        return flask_envelope.envelope_response({"id": 1}, status=201)

    return app


def _check(url: str) -> None:
    header = {"soajsinjectobj": '{"tenant": {"id": "t1", "code": "TST1"}, "key": {"eKey": "k"}}'}
    refused = httpx.get(url + "/known", timeout=10)  # no context: the strict refusal
    assert refused.status_code == 400 and refused.json()["errors"]["codes"] == [142]
    answer = httpx.get(url + "/known", headers=header, timeout=10)
    assert answer.status_code == 404, answer.text
    assert answer.json()["errors"]["details"] == [{"code": 400, "message": "Order not found"}]
    answer = httpx.get(url + "/boom", headers=header, timeout=10)
    assert answer.status_code == 500
    assert answer.json()["errors"]["details"] == [{"code": 164, "message": "Orders failed"}]
    answer = httpx.get(url + "/ok", headers=header, timeout=10)
    assert answer.status_code == 201 and answer.content == b'{"result":true,"data":{"id":1}}'
    assert answer.headers["content-type"] == "application/json"


def test_fastapi_takes_the_config_of_setups_registry() -> None:
    with uvicorn_server(fastapi_app()) as served:
        _check(served.url)


def test_flask_takes_the_config_of_the_extensions_registry() -> None:
    with werkzeug_server(flask_app()) as served:
        _check(served.url)


def test_build_response_is_a_plain_dict() -> None:
    assert build_response(1) == {"result": True, "data": 1}
