"""A SoajsError raised in a FastAPI websocket endpoint, on real uvicorn: before the
handshake it refuses it with the envelope and its status; after, it closes the socket
(1008 for a 4xx status, 1011 for a 5xx) instead of uvicorn aborting it (1006) with an
ASGI error logged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from soajs.response import SoajsError
from tests.integration.servers import uvicorn_server


def _app() -> Any:  # WebSocket at module level: the annotations are strings
    from soajs.response.starlette import install_handlers

    app = FastAPI()
    install_handlers(app, {401: "Login required"})

    @app.websocket("/before")
    async def before(ws: WebSocket) -> None:
        raise SoajsError(401, status=403)

    @app.websocket("/after/{status}")
    async def after(ws: WebSocket, status: int) -> None:
        await ws.accept()
        raise SoajsError(401, status=status)

    return app


def test_before_the_handshake_it_is_refused_with_the_envelope() -> None:
    with uvicorn_server(_app()) as served, pytest.raises(InvalidStatus) as info:
        connect(served.url.replace("http", "ws") + "/before", open_timeout=5)
    response = info.value.response
    assert response.status_code == 403
    assert response.body == (
        b'{"result":false,"errors":{"codes":[401],'
        b'"details":[{"code":401,"message":"Login required"}]}}'
    )


@pytest.mark.parametrize(("status", "close"), [(403, 1008), (503, 1011)])
def test_after_the_handshake_the_socket_is_closed(status: int, close: int) -> None:
    with uvicorn_server(_app()) as served:
        url = served.url.replace("http", "ws") + f"/after/{status}"
        with connect(url, open_timeout=5) as client, pytest.raises(ConnectionClosed) as info:
            client.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == close
