"""The same routes on FastAPI and Flask (and Django, tests/response/django_server.py),
with the envelope's handlers installed; each test runs them on a real server.

Routes: ``/ok`` (success envelope), ``/known`` (code from the errors map, 404),
``/own`` (own message, 409, a header), ``/many`` (two codes), ``/unknown``
(a code in no map), ``/boom`` (an unhandled error whose text must not leak),
``/relay`` (calls the peer at ``ENVELOPE_TEST_PEER``, whose error is relayed),
``/noroute`` (a connector error), ``/late`` (an error after the answer started),
``/items/<n>`` (validation: FastAPI by signature, the others with pydantic).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pydantic

from soajs.connector import DeadlineExceededError, NoRouteError, ServiceConnector
from soajs.response import SoajsError, build_response
from tests.connector.conftest import awareness, make_context

ERRORS = {400: "Order not found", 401: "Order closed", 164: "Something went wrong"}
SECRET = "secret-token-5f0a1b2c"
OPTIONS: dict[str, Any] = {"trusted_gateways": "*", "health": False}


class Item(pydantic.BaseModel):
    n: int
    q: int


def relay() -> Any:
    peer = os.environ.get("ENVELOPE_TEST_PEER", "127.0.0.1:9")
    connector = ServiceConnector(make_context(awareness(peer)), deadline=5)
    return build_response(connector.request_data("b", "GET", "/order"))


def raise_for(name: str) -> Any:
    """What each error route does, shared by the three frameworks."""
    if name == "ok":
        return build_response({"id": 7, "name": "é"})
    if name == "known":
        raise SoajsError(400, status=404)
    if name == "own":
        raise SoajsError(401, "Order 7 is closed", status=409, headers={"X-Order": "7"})
    if name == "many":
        raise SoajsError([401, (400, None)], status=400)
    if name == "unknown":
        raise SoajsError(7777)
    if name == "boom":
        raise RuntimeError(f"db password={SECRET} at /srv/app.py")
    if name == "relay":
        return relay()
    if name == "noroute":
        raise NoRouteError(f"no route to 'x' via 10.0.0.5 ({SECRET})", service="x", version=None)
    if name == "deadline":
        raise DeadlineExceededError(
            "late", service="x", version="1", target="10.0.0.5:1", attempts=1,
            deadline="call", seconds=1.0,
        )  # fmt: skip
    raise AssertionError(name)


ROUTES = ("ok", "known", "own", "many", "unknown", "boom", "relay", "noroute", "deadline")


def late_body() -> Iterator[bytes]:
    yield b"partial"
    raise RuntimeError("after the answer started")


def fastapi_app(**options: Any) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    from soajs.contrib.fastapi import setup
    from soajs.response.starlette import install_handlers

    app = FastAPI()
    setup(app, **{**OPTIONS, **options})
    install_handlers(app, ERRORS, unhandled=True, validation=True)

    for name in ROUTES:

        def route(name: str = name) -> Any:
            return raise_for(name)

        app.add_api_route(f"/{name}", route, methods=["GET", "POST"])

    @app.get("/late")
    def late() -> StreamingResponse:
        return StreamingResponse(late_body())

    @app.post("/items/{n}")
    def items(n: int, q: int, body: Item) -> Any:
        return build_response(body.model_dump())

    return app


def flask_app(**options: Any) -> Any:
    from flask import Flask, Response, request

    from soajs.contrib.flask import SOAJS
    from soajs.response.flask import install_handlers

    app = Flask(__name__)
    SOAJS(app, **{**OPTIONS, **options})
    install_handlers(app, ERRORS, unhandled=True, validation=True)

    for name in ROUTES:

        def route(name: str = name) -> Any:
            return raise_for(name)

        app.add_url_rule(f"/{name}", name, route, methods=["GET", "POST"])

    @app.get("/late")
    def late() -> Response:
        return Response(late_body())

    @app.post("/items/<n>")
    def items(n: str) -> Any:
        body = Item.model_validate({**(request.get_json(silent=True) or {}), "n": n})
        return build_response(body.model_dump())

    return app
