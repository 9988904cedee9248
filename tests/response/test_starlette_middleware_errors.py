"""FastAPI on real uvicorn, ``unhandled=True``: a SoajsError or a connector error raised
by the app's own middleware (outside the exception handlers, e.g. an auth check in
``@app.middleware("http")``) answers its envelope, not the generic 500 of a crash."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from soajs.connector import NoRouteError
from soajs.response import SoajsError
from tests.integration.servers import uvicorn_server


def _app() -> Any:
    from fastapi import FastAPI, Request, Response

    from soajs.response.starlette import install_handlers

    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        if request.url.path == "/denied":
            raise SoajsError(401, status=401, headers={"WWW-Authenticate": "Bearer"})
        if request.url.path == "/noroute":
            raise NoRouteError("no route via 10.0.0.5", service="x", version=None)
        return await call_next(request)

    @app.get("/{name}")
    def route(name: str) -> dict[str, str]:
        return {"name": name}

    install_handlers(app, {401: "Login required"}, unhandled=True)
    return app


def test_errors_raised_by_middleware_answer_their_envelope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "soajs.response"), uvicorn_server(_app()) as served:
        denied = httpx.get(served.url + "/denied", timeout=10)
        noroute = httpx.get(served.url + "/noroute", timeout=10)
        fine = httpx.get(served.url + "/fine", timeout=10)
    assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
    assert denied.json() == {
        "result": False,
        "errors": {"codes": [401], "details": [{"code": 401, "message": "Login required"}]},
    }
    assert noroute.status_code == 503 and noroute.json()["errors"]["codes"] == [133]
    assert "10.0.0.5" not in noroute.text
    assert fine.json() == {"name": "fine"}
    assert not [r for r in caplog.records if r.name == "soajs.response"]  # not crashes
