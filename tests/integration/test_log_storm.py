"""A storm of bad headers logs one line per reason per interval, on real servers.

Finding 6 of issue 12: reasons were de-duplicated by (reason, detail) and the
detail changes with every request (an error position, a byte count): 8,000
bad headers gave 8,000 WARNING lines despite "once per 60 s".
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware
from tests.integration.servers import uvicorn_server, werkzeug_server

OPTIONS: dict[str, Any] = {"trusted_gateways": "*", "maintenance_listener": False,
                           "max_header_size": 8192}  # fmt: skip


def bad(i: int) -> bytes:
    """Three reasons, each with a detail that changes with ``i``."""
    kind = i % 3
    if kind == 0:
        return b"{" + b" " * (i % 1000) + b"x"  # not_json at a new position
    if kind == 1:
        return b"{" * (8193 + i % 500)  # too_large, a new byte count
    return b'{"tenant":{"id":"t","code":"T"},"geo":{"n":' + b"9" * (4301 + i % 50) + b"}}"


async def ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def wsgi_ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def storm_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "soajs.context"]


@pytest.mark.parametrize("server", ["uvicorn", "werkzeug"])
def test_two_thousand_bad_headers_give_one_line_per_reason(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soajs.context")
    if server == "uvicorn":
        app: Any = Starlette(routes=[Route("/", ok)])
        app.add_middleware(SOAJSMiddleware, **OPTIONS)
        serving = uvicorn_server(app)
        count = 2000
    else:
        serving = werkzeug_server(SOAJSWSGIMiddleware(wsgi_ok, **OPTIONS))
        count = 600  # a new connection per request there
    with serving as served, httpx.Client(base_url=served.url, timeout=10) as client:
        for i in range(count):
            assert client.get("/", headers=[(b"soajsinjectobj", bad(i))]).status_code == 200
    lines = storm_lines(caplog)
    reasons = sorted(line.rsplit("[reason=", 1)[1].split(";")[0] for line in lines)
    assert reasons == ["integer_too_long", "not_json", "too_large"], lines
    assert all("9999" not in line for line in lines)  # never the content
