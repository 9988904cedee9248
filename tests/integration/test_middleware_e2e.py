"""The ASGI and WSGI middlewares end to end: real uvicorn and werkzeug servers on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from soajs import current_context
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware, get_soajs_context
from tests.conftest import FIXTURES
from tests.support import free_port, wait_until

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
UNICODE = json.dumps(
    {
        "tenant": {"id": "t-ü", "code": "UNI", "name": "Café 東京 🚀"},
        "urac": {"username": "zoë", "firstName": quote("Zoë"), "lastName": quote("山田")},
    },
    ensure_ascii=False,
).encode()


def whoami(ctx: Any, header_seen: bool) -> dict[str, Any]:
    return {
        "tenant": None if ctx is None else {"id": ctx.tenant.id, "code": ctx.tenant.code,
                                            "name": ctx.tenant.name},
        "user": None if ctx is None or ctx.urac is None else {
            "username": ctx.urac.username, "first": ctx.urac.first_name,
            "last": ctx.urac.last_name},
        "same_as_current": ctx is current_context(),
        "header_seen": header_seen,
    }  # fmt: skip


# -- ASGI: Starlette under uvicorn -----------------------------------------------------
async def asgi_whoami(request: Request) -> JSONResponse:
    ctx = get_soajs_context(request)
    assert ctx is request.state.soajs
    return JSONResponse(whoami(ctx, "soajsinjectobj" in request.headers))


async def asgi_boom(request: Request) -> JSONResponse:
    raise RuntimeError("handler failed")


def serve_asgi(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def starlette_app(**options: Any) -> Starlette:
    app = Starlette(routes=[Route("/whoami", asgi_whoami), Route("/boom", asgi_boom)])
    app.add_middleware(SOAJSMiddleware, **options)
    return app


@pytest.fixture
def asgi_url() -> Iterator[str]:
    yield from serve_asgi(starlette_app(trusted_gateways="127.0.0.1"))


@pytest.fixture
def asgi_untrusted_url() -> Iterator[str]:
    yield from serve_asgi(starlette_app(trusted_gateways="10.9.9.9"))


@pytest.fixture
def asgi_strict_url() -> Iterator[str]:
    yield from serve_asgi(starlette_app(trusted_gateways="*", strict=True))


# -- WSGI: werkzeug threaded server ------------------------------------------------------
def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    request = WRequest(environ)
    ctx = get_soajs_context(request)
    assert ctx is get_soajs_context(environ)
    body = json.dumps(whoami(ctx, "soajsinjectobj" in request.headers))
    return WResponse(body, content_type="application/json")(environ, start_response)


def serve_wsgi(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def wsgi_url() -> Iterator[str]:
    yield from serve_wsgi(SOAJSWSGIMiddleware(wsgi_app, trusted_gateways="127.0.0.1"))


@pytest.fixture
def wsgi_untrusted_url() -> Iterator[str]:
    yield from serve_wsgi(SOAJSWSGIMiddleware(wsgi_app, trusted_gateways="10.0.0.0/8"))


@pytest.fixture(params=["asgi", "wsgi"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["asgi", "wsgi"])
def untrusted_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_untrusted_url"))


def get(url: str, header: bytes | None = None, path: str = "/whoami") -> httpx.Response:
    headers = [] if header is None else [(b"soajsinjectobj", header)]
    return httpx.get(url + path, headers=headers, timeout=5)


def test_the_gateway_header_gives_the_tenant(url: str) -> None:
    body = get(url, RAW).json()
    assert body["tenant"] == {"id": "5f0a1b2c3d4e5f6a7b8c9d01", "code": "TST1",
                              "name": "Test Tenant One"}  # fmt: skip
    assert body["same_as_current"] is True


def test_accents_cjk_and_emoji_arrive_intact(url: str) -> None:
    body = get(url, UNICODE).json()
    assert body["tenant"]["name"] == "Café 東京 🚀"
    assert body["user"] == {"username": "zoë", "first": "Zoë", "last": "山田"}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b'{"tenant": {"id": "x"}}', id="no-code"),
        pytest.param(b'{"a": NaN}', id="nan"),
        pytest.param(b"[" * 3000, id="deep"),
        pytest.param(b"%7B%ZZ", id="bad-percent"),
        pytest.param(b"x" * 60000, id="large-garbage"),
    ],
)
def test_bad_headers_never_fail_the_request(url: str, header: bytes) -> None:
    response = get(url, header)
    assert response.status_code == 200
    assert response.json()["tenant"] is None
    assert b"x" * 100 not in response.content


def test_no_header_means_no_context(url: str) -> None:
    assert get(url).json() == {"tenant": None, "user": None, "same_as_current": True,
                               "header_seen": False}  # fmt: skip


def test_a_forged_header_from_an_untrusted_peer_is_ignored_and_removed(untrusted_url: str) -> None:
    body = get(untrusted_url, b'{"tenant": {"id": "FORGED", "code": "FORGED"}}').json()
    assert body["tenant"] is None
    assert body["header_seen"] is False


def test_heartbeat_is_answered(url: str) -> None:
    response = get(url, path="/heartbeat")
    assert response.status_code == 200
    assert response.json()["result"] is True


def test_strict_mode_answers_400_problem_json(asgi_strict_url: str) -> None:
    response = get(asgi_strict_url, b"{")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert get(asgi_strict_url, path="/heartbeat").status_code == 200
    assert get(asgi_strict_url, RAW).status_code == 200


def test_context_var_is_reset_even_when_the_handler_raises() -> None:
    app = starlette_app(trusted_gateways="*")
    seen: list[Any] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            pass

        scope = {"type": "http", "method": "GET", "path": "/boom", "raw_path": b"/boom",
                 "query_string": b"", "headers": [(b"soajsinjectobj", RAW)],
                 "client": ("127.0.0.1", 1), "server": ("t", 80), "scheme": "http",
                 "root_path": "", "http_version": "1.1"}  # fmt: skip
        with pytest.raises(RuntimeError, match="handler failed"):
            await app(scope, receive, send)
        seen.append(current_context())

    asyncio.run(run())
    assert seen == [None]
