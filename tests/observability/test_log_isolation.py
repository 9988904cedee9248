"""The log filter's fields never leak between concurrent requests: 50 at once on a real
uvicorn (asyncio tasks) and a threaded werkzeug (threads), each handler logging before
and after yielding to the others; a record outside any request has dashes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware
from soajs.observability import SoajsContextFilter
from tests.integration.servers import uvicorn_server, werkzeug_server

LOG = logging.getLogger("test.isolation")


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    seen: list[logging.LogRecord] = []
    lock = threading.Lock()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with lock:
                seen.append(record)

    handler = Keep()
    handler.addFilter(SoajsContextFilter())
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    yield seen
    LOG.removeHandler(handler)


def _check(records: list[logging.LogRecord], url: str) -> None:
    def one(i: int) -> Any:
        tid = f"{i:032x}"
        headers = {"x-request-id": f"req-{i}", "traceparent": f"00-{tid}-{1 + i:016x}-01"}
        return httpx.get(url, headers=headers, timeout=20).status_code

    with ThreadPoolExecutor(50) as pool:
        assert set(pool.map(one, range(1, 51))) == {200}
    LOG.info("outside")
    mine = [r for r in records if r.getMessage().startswith("req ")]
    assert len(mine) == 100
    for record in mine:
        i = int(record.getMessage().split()[1])
        assert record.soajs_request_id == f"req-{i}"  # type: ignore[attr-defined]
        assert record.soajs_trace_id == f"{i:032x}"  # type: ignore[attr-defined]
    (outside,) = [r for r in records if r.getMessage() == "outside"]
    assert outside.soajs_request_id == outside.soajs_trace_id == "-"  # type: ignore[attr-defined]


def test_asyncio_tasks_do_not_share_fields(records: list[logging.LogRecord]) -> None:
    async def handler(request: Request) -> JSONResponse:
        i = int(request.headers["x-request-id"].split("-")[1])
        LOG.info("req %d before", i)
        await asyncio.sleep(0.01 * (i % 5))
        LOG.info("req %d after", i)
        return JSONResponse({})

    app = SOAJSMiddleware(Starlette(routes=[Route("/", handler)]), trusted_gateways="*",
                          health=False)  # fmt: skip
    with uvicorn_server(app) as served:
        _check(records, f"http://127.0.0.1:{served.port}/")


def test_threads_do_not_share_fields(records: list[logging.LogRecord]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        i = int(environ["HTTP_X_REQUEST_ID"].split("-")[1])
        LOG.info("req %d before", i)
        time.sleep(0.01 * (i % 5))
        LOG.info("req %d after", i)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wsgi = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False)
    with werkzeug_server(wsgi) as served:
        _check(records, f"http://127.0.0.1:{served.port}/")


def test_an_all_zero_inbound_trace_id_is_not_a_trace_id(records: list[logging.LogRecord]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        LOG.info("zero")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wsgi = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False)
    with werkzeug_server(wsgi) as served:
        zero = f"00-{'0' * 32}-{'1' * 16}-01"
        httpx.get(f"http://127.0.0.1:{served.port}/", headers={"traceparent": zero}, timeout=10)
    (record,) = [r for r in records if r.getMessage() == "zero"]
    assert record.soajs_trace_id == "-"  # type: ignore[attr-defined]
