"""SoajsError's arguments as users write them, answered on real servers (FastAPI on
uvicorn, Flask on werkzeug): a digit-string code (Node's config.js keys are strings),
the status given positionally, a 2xx status (Node services answer errors with 200),
and the refusals that name what is wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from soajs.response import SoajsError, errors_map
from tests.integration.servers import uvicorn_server, werkzeug_server

ERRORS = {"400": "Order not found", 401: "Order closed"}

RAISERS: dict[str, Callable[[], Any]] = {
    "digits": lambda: SoajsError("400", status=404),
    "positional": lambda: SoajsError(401, "Order 7 is closed", 409),
    "node200": lambda: SoajsError(401, status=200),
    "own-type": lambda: SoajsError(
        401, status=409, headers={"content-type": "text/html", "X-A": "1"}
    ),
}


def _raise(name: str) -> Any:
    raise RAISERS[name]()


def _fastapi() -> Any:
    from fastapi import FastAPI

    from soajs.response.starlette import install_handlers

    app = FastAPI()
    install_handlers(app, ERRORS)

    @app.get("/{name}")
    def route(name: str) -> Any:
        return _raise(name)

    return app


def _flask() -> Any:
    from flask import Flask

    from soajs.response.flask import install_handlers

    app = Flask(__name__)
    install_handlers(app, ERRORS)
    app.add_url_rule("/<name>", "route", _raise)
    return app


@pytest.fixture(scope="module", params=["fastapi", "flask"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "fastapi":
        with uvicorn_server(_fastapi()) as server:
            yield server.url
    else:
        with werkzeug_server(_flask()) as server:
            yield server.url


def _envelope(code: int, message: str) -> dict[str, Any]:
    details = [{"code": code, "message": message}]
    return {"result": False, "errors": {"codes": [code], "details": details}}


def test_a_digit_string_code(url: str) -> None:
    answer = httpx.get(url + "/digits", timeout=10)
    assert answer.status_code == 404
    assert answer.json() == _envelope(400, "Order not found")


def test_the_status_given_positionally(url: str) -> None:
    answer = httpx.get(url + "/positional", timeout=10)
    assert answer.status_code == 409
    assert answer.json() == _envelope(401, "Order 7 is closed")


def test_an_error_answered_with_200_as_node_does(url: str) -> None:
    answer = httpx.get(url + "/node200", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == _envelope(401, "Order closed")


NOT_CODES = ["abc", "\uff14\uff10\uff10", "-1", "", 0, -3, True, 2.0, 2**53, None, b"400"]


@pytest.mark.parametrize("code", NOT_CODES)
def test_codes_that_are_not_codes_are_refused_by_name(code: Any) -> None:
    with pytest.raises(TypeError) as info:
        SoajsError(code)
    assert repr(code) in str(info.value)


@pytest.mark.parametrize("status", [100, 199, 600, True, "404", 404.0])
def test_statuses_outside_200_599_are_refused(status: Any) -> None:
    with pytest.raises(ValueError, match="200-599"):
        SoajsError(400, status=status)


def test_an_errors_map_with_unicode_digit_keys_is_ignored_not_a_crash() -> None:
    assert dict(errors_map({"²": "x", "٣": "y", "400": "z"})) == {400: "z"}


def test_headers_cannot_replace_the_content_type(url: str) -> None:
    answer = httpx.get(url + "/own-type", timeout=10)
    assert answer.status_code == 409 and answer.headers["x-a"] == "1"
    assert answer.headers.get_list("content-type") == ["application/json"]
    assert answer.json() == _envelope(401, "Order closed")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "a\r\nInjected: 1"},
        {"X-A": "a\nb"},
        {"X-A": "nul\x00"},
        {"X-A": "\u20ac"},
        {"X A": "1"},
        {"X-A:": "1"},
        {"": "1"},
        {"X-A": 7},
    ],
)
def test_headers_no_server_can_send_are_refused_when_raised(headers: Any) -> None:
    with pytest.raises(ValueError, match="header") as info:
        SoajsError(400, headers=headers)
    assert "Injected" not in str(info.value) and "\u20ac" not in str(info.value)


def test_envelope_response_answers_json_for_nan_as_node_does() -> None:
    """JSON.stringify answers null for NaN and Infinity; Python's json writes ``NaN``,
    which no JSON parser (the gateway's, a Node client's) reads."""
    from fastapi import FastAPI

    from soajs.response.starlette import envelope_response

    app = FastAPI()
    data = {"x": float("nan"), "y": [float("inf"), -float("inf"), 1.5], "z": {"w": 2}}

    @app.get("/nan")
    def nan() -> Any:
        return envelope_response(data)

    with uvicorn_server(app) as served:
        answer = httpx.get(served.url + "/nan", timeout=10)
    assert answer.status_code == 200
    assert answer.content == b'{"result":true,"data":{"x":null,"y":[null,null,1.5],"z":{"w":2}}}'


def _raise_in_worker() -> None:
    raise SoajsError([(401, "Order 7 is closed"), 400], status=409, headers={"X-Order": "7"})


def test_an_error_crosses_a_process_boundary_intact() -> None:
    """ProcessPoolExecutor (and copy.copy) rebuild an exception from its pickle; the
    error of a worker process must reach the handler with its codes, status, headers."""
    import copy
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool, pytest.raises(SoajsError) as info:
        pool.submit(_raise_in_worker).result(timeout=60)
    for exc in (info.value, copy.copy(info.value)):
        assert exc.errors == ((401, "Order 7 is closed"), (400, None))
        assert (exc.code, exc.status, exc.headers) == (401, 409, {"X-Order": "7"})
        assert exc.envelope({400: "Order not found"}) == {
            "result": False,
            "errors": {
                "codes": [400, 401],
                "details": [
                    {"code": 401, "message": "Order 7 is closed"},
                    {"code": 400, "message": "Order not found"},
                ],
            },
        }
