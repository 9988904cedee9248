"""A public service (``extKeyRequired: false``) believes no ``soajsinjectobj`` at all.

Measured on gateway 4.3.4: a client's forged header reaches a public service
unchanged (PROTOCOL.md, Trust). Real servers: uvicorn + FastAPI and werkzeug +
Flask; the registry (and the service's Config) comes from a real local control
plane.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi import Request as ASGIRequest
from flask import Flask, request

from soajs import Config, RegistryManager, current_context
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import get_soajs_context
from tests.conftest import FIXTURES
from tests.integration.servers import Served, uvicorn_server, werkzeug_server
from tests.support import free_port

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
FORGED = b'{"tenant":{"id":"FORGED","code":"X"}}'
# the listener is tested elsewhere; here it would only compete for ports
NO_LISTENER: dict[str, Any] = {"maintenance_listener": False, "trusted_gateways": "*"}


def answer(ctx: Any, headers: Any) -> dict[str, Any]:
    current = current_context()
    return {
        "tenant": None if ctx is None else ctx.tenant.id,
        "current": None if current is None else current.tenant.id,
        "header": headers.get("soajsinjectobj"),
    }


def fastapi_server(registry: Any, **options: Any) -> AbstractContextManager[Served]:
    app = FastAPI()
    setup(app, registry=registry, **NO_LISTENER, **options)

    @app.get("/whoami")
    async def who(req: ASGIRequest) -> Any:
        return answer(get_soajs_context(req), req.headers)

    return uvicorn_server(app)


@contextmanager
def flask_server(registry: Any, **options: Any) -> Iterator[Served]:
    app = Flask(__name__)
    extension = SOAJS(app, registry=registry, **NO_LISTENER, **options)

    @app.get("/whoami")
    def who() -> Any:
        return answer(get_soajs_context(request), request.headers)

    try:
        with werkzeug_server(app) as served:
            yield served
    finally:
        assert extension.middleware is not None
        extension.middleware.close()


SERVERS = [pytest.param(fastapi_server, id="uvicorn"), pytest.param(flask_server, id="werkzeug")]
Server = Callable[..., AbstractContextManager[Served]]


def whoami(served: Served, header: bytes) -> dict[str, Any]:
    response = httpx.get(served.url + "/whoami", headers=[(b"soajsinjectobj", header)], timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def manager_for(
    make_manager: Callable[..., RegistryManager], plane: ControlPlaneServer, *, public: bool
) -> RegistryManager:
    config = Config(name="hello", group="Demo", port=free_port(), version="1",
                    extKeyRequired=not public)  # fmt: skip
    return make_manager("hello", registry_api=plane.address, config=config, auto_reload=False)


NOTHING = {"tenant": None, "current": None, "header": None}


@pytest.mark.parametrize("server", SERVERS)
def test_a_public_service_ignores_a_forged_header_by_its_own_config(
    server: Server,
    control_plane: ControlPlaneServer,
    make_manager: Callable[..., RegistryManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = manager_for(make_manager, control_plane, public=True)
    caplog.set_level(logging.WARNING, logger="soajs.context")
    with server(manager) as served:
        assert whoami(served, FORGED) == NOTHING  # not believed, not even visible
        assert whoami(served, RAW) == NOTHING  # a public service believes no header
    reasons = [r.getMessage() for r in caplog.records if r.name == "soajs.context"]
    assert any("reason=public_service" in message for message in reasons)
    assert not any("FORGED" in message for message in reasons)


@pytest.mark.parametrize("server", SERVERS)
def test_public_service_true_needs_no_registry(server: Server) -> None:
    with server(None, public_service=True) as served:
        assert whoami(served, FORGED) == NOTHING


@pytest.mark.parametrize("server", SERVERS)
def test_public_service_false_overrides_the_config(
    server: Server, control_plane: ControlPlaneServer, make_manager: Callable[..., RegistryManager]
) -> None:
    manager = manager_for(make_manager, control_plane, public=True)
    with server(manager, public_service=False) as served:
        assert whoami(served, FORGED) == {
            "tenant": "FORGED",
            "current": "FORGED",
            "header": FORGED.decode(),
        }


@pytest.mark.parametrize("server", SERVERS)
def test_a_service_that_requires_a_key_believes_the_gateway(
    server: Server, control_plane: ControlPlaneServer, make_manager: Callable[..., RegistryManager]
) -> None:
    manager = manager_for(make_manager, control_plane, public=False)
    with server(manager) as served:
        body = whoami(served, RAW)
        assert (body["tenant"], body["current"]) == ("5f0a1b2c3d4e5f6a7b8c9d01",) * 2
