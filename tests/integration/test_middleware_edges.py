"""Corners of the middlewares a user meets with real servers: streaming bodies, apps
without lifespan support, HEAD health checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, Response

from soajs import Config, RegistryManager, current_context
from soajs.contrib.flask import SOAJS
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSMiddleware
from tests.conftest import FIXTURES
from tests.integration.servers import (
    maintenance_threads,
    port_is_closed,
    uvicorn_server,
    werkzeug_server,
)
from tests.support import free_port

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()


def current_code() -> str:
    ctx = current_context()
    return "none" if ctx is None else ctx.tenant.code


def test_a_streaming_wsgi_body_still_sees_the_context() -> None:
    app = Flask(__name__)
    SOAJS(app, trusted_gateways="*")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            yield f"start={current_code()};"
            yield f"later={current_code()}"

        return Response(chunks())

    with werkzeug_server(app) as served:
        response = httpx.get(served.url + "/stream", headers=[(b"soajsinjectobj", RAW)])
        assert response.text == "start=TST1;later=TST1"


@pytest.fixture
def lazy_manager(
    control_plane: ControlPlaneServer, make_manager: Callable[..., RegistryManager]
) -> RegistryManager:
    config = Config(name="hello", group="Demo", port=free_port(), version="1",
                    maintenance={"port": {"type": "custom", "value": free_port()}})  # fmt: skip
    return make_manager("hello", registry_api=control_plane.address, config=config,
                        autostart=False)  # fmt: skip


async def no_lifespan_app(scope: Any, receive: Any, send: Any) -> None:
    """Like Django's ASGIHandler: http only, lifespan refused with an exception."""
    if scope["type"] != "http":
        raise ValueError(f"can only handle http, not {scope['type']}")
    body = current_code().encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_lifespan_starts_the_registry_even_if_the_app_has_no_lifespan(
    lazy_manager: RegistryManager,
) -> None:
    app = SOAJSMiddleware(no_lifespan_app, registry=lazy_manager, trusted_gateways="*")
    assert app.core.listener is not None
    try:
        with uvicorn_server(app, lifespan="auto") as served:
            response = httpx.get(served.url + "/x", headers=[(b"soajsinjectobj", RAW)])
            assert response.text == "TST1"
            assert lazy_manager.is_ready
            assert app.core.listener.is_serving
    finally:
        app.core.listener.stop()
        lazy_manager.stop()
    assert maintenance_threads() == []


def test_lifespan_with_an_app_that_has_one(lazy_manager: RegistryManager) -> None:
    """The working case next to the one above: a Starlette app handles lifespan."""
    from starlette.applications import Starlette

    app = Starlette()
    app.add_middleware(SOAJSMiddleware, registry=lazy_manager, trusted_gateways="*")
    assert not lazy_manager.is_ready
    with uvicorn_server(app, lifespan="on"):
        assert lazy_manager.is_ready
        assert len(maintenance_threads()) == 1
        port = int(maintenance_threads()[0].name.rsplit("-", 1)[1])
        assert httpx.get(f"http://127.0.0.1:{port}/heartbeat").status_code == 200
    assert port_is_closed(port)
    assert lazy_manager.is_stopped


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_head_heartbeat_is_200_without_a_body(kind: str) -> None:
    if kind == "asgi":
        server = uvicorn_server(SOAJSMiddleware(no_lifespan_app), lifespan="off")
    else:
        app = Flask(__name__)
        SOAJS(app)
        server = werkzeug_server(app)
    with server as served:
        response = httpx.head(served.url + "/heartbeat")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-type"] == "application/json"


def test_lifespan_shutdown_closes_the_loops_pooled_connector_client() -> None:
    """Issue 6: one pooled client per loop, closed on shutdown (no unclosed sockets)."""
    import asyncio

    from soajs.connector import transport

    async def run() -> None:
        client = transport.async_client()
        assert transport.async_client() is client  # pooled: one per loop
        middleware = SOAJSMiddleware(no_lifespan_app, health=False)
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> Any:
            return next(messages)

        async def send(message: Any) -> None:
            sent.append(message["type"])

        await middleware({"type": "lifespan"}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert client.is_closed
        assert transport.async_client() is not client  # a new one if the loop goes on
        await transport.aclose()

    asyncio.run(run())
    transport.close()


def test_a_file_wrapper_body_is_handed_to_the_server_untouched() -> None:
    """The server's sendfile path (``wsgi.file_wrapper``) must survive the context wrapper."""
    import io

    from soajs.middleware import SOAJSWSGIMiddleware

    class FileWrapper:
        def __init__(self, filelike: Any, block_size: int = 8192) -> None:
            self.filelike = filelike

        def __iter__(self) -> Any:
            return iter(lambda: self.filelike.read(8192), b"")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        if environ["PATH_INFO"] == "/file":
            return environ["wsgi.file_wrapper"](io.BytesIO(b"data"))
        return (chunk for chunk in [current_code().encode()])

    middleware = SOAJSWSGIMiddleware(app, trusted_gateways="*", health=False)
    environ = {
        "REQUEST_METHOD": "GET",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_SOAJSINJECTOBJ": RAW.decode("latin-1"),
        "wsgi.file_wrapper": FileWrapper,
    }
    body = middleware({**environ, "PATH_INFO": "/file"}, lambda *a: None)
    assert isinstance(body, FileWrapper)
    lazy = middleware({**environ, "PATH_INFO": "/gen"}, lambda *a: None)
    assert b"".join(lazy) == b"TST1"  # a generator still runs with the context
