"""The library's own HTTP traffic is quiet at INFO; the application's is not.

A FastAPI app under a real uvicorn calls service ``b`` through a real gateway on
loopback with the connector (async and sync) and then calls the same gateway with its
own httpx client: at INFO only the application's exchange has an ``httpx`` line; at
DEBUG the connector's exchanges are ``soajs.http`` lines with structured fields.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from soajs.connector import AsyncServiceConnector, ServiceConnector, aclose
from soajs.contrib.fastapi import setup
from tests.connector.loopback import Loopback
from tests.connector.test_propagation_e2e import header_for
from tests.integration.servers import uvicorn_server


def _serve_and_call(gateway: Loopback) -> None:
    app = FastAPI()
    setup(app, trusted_gateways="*", health=False)

    @app.get("/call")
    async def call() -> Any:
        await AsyncServiceConnector().get("b", "/orders?token=secret-q", version="1")
        await aclose()
        await asyncio.to_thread(ServiceConnector().get, "b", "/sync", version="1")
        async with httpx.AsyncClient() as own:
            await own.get(f"http://{gateway.address}/own")
        return {"ok": True}

    with uvicorn_server(app) as served:
        answer = httpx.get(
            f"http://127.0.0.1:{served.port}/call",
            headers={"soajsinjectobj": header_for(gateway).decode()},
        )
    assert answer.status_code == 200, answer.text
    assert len(gateway.requests) == 3


def _httpx_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """httpx's lines, but the test's own request to the app."""
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    return [line for line in lines if "/call" not in line]


def test_at_info_only_the_applications_own_call_logs(
    servers: Callable[..., Loopback], caplog: pytest.LogCaptureFixture
) -> None:
    gateway = servers("gateway")
    caplog.set_level(logging.INFO)
    _serve_and_call(gateway)
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "httpx" and "/call" not in r.getMessage()
    ]
    assert len(lines) == 1, lines
    assert "/own" in lines[0]
    assert not [r for r in caplog.records if r.name == "soajs.http"]


def test_at_debug_the_library_says_it_once_with_fields_and_no_query(
    servers: Callable[..., Loopback], caplog: pytest.LogCaptureFixture
) -> None:
    gateway = servers("gateway")
    caplog.set_level(logging.DEBUG)
    _serve_and_call(gateway)
    ours = [r for r in caplog.records if r.name == "soajs.http"]
    assert len(ours) == 2, [r.getMessage() for r in ours]
    paths = sorted(r.http_path for r in ours)  # type: ignore[attr-defined]
    assert paths == ["/b/v1/orders", "/b/v1/sync"]
    for record in ours:
        assert record.soajs_kind == "connector"  # type: ignore[attr-defined]
        assert record.http_status == 200  # type: ignore[attr-defined]
        assert record.levelno == logging.DEBUG
        assert "secret-q" not in record.getMessage()
    httpx_lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "httpx" and "/call" not in r.getMessage()
    ]
    assert len(httpx_lines) == 1 and "/own" in httpx_lines[0]
