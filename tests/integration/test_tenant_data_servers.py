"""context.tenant_db and the client cache in handlers served by real uvicorn and werkzeug,
behind the gateway's real header, with a real local control plane that changes the
tenant database's password between requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.errors import SoajsError
from soajs.middleware import SOAJSMiddleware, SOAJSWSGIMiddleware, get_soajs_context
from tests.integration.servers import uvicorn_server, werkzeug_server
from tests.integration.test_examples import RAW
from tests.support import write_json

SECRET = "tenant-db-password-do-not-log"


def answer(ctx: Any, manager: RegistryManager) -> dict[str, Any]:
    if ctx is None:
        return {"context": None}
    try:
        db = ctx.tenant_db("orders")
        database = manager.mongo.database(db)
    except SoajsError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    credentials = database.client.options.pool_options._credentials
    return {
        "name": db.name,
        "driver_name": database.name,
        "client": id(database.client),
        "password": credentials is not None and credentials.password == SECRET,
        "config": ctx.service_config(),
        "shown": repr(db) + str(db),
    }


def starlette_app(manager: RegistryManager) -> Any:
    async def handler(request: Request) -> JSONResponse:
        return JSONResponse(answer(get_soajs_context(request), manager))

    app = Starlette(routes=[Route("/", handler)])
    app.add_middleware(SOAJSMiddleware, registry=manager, trusted_gateways="127.0.0.1")
    return app


def flask_app(manager: RegistryManager) -> Any:
    app = Flask("tenant_data")

    @app.get("/")
    def handler() -> Any:
        from flask import request

        return answer(get_soajs_context(request), manager)

    app.wsgi_app = SOAJSWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, registry=manager, trusted_gateways="127.0.0.1"
    )
    return app


def header(code: str) -> bytes:
    data = json.loads(RAW)
    data["tenant"]["code"] = code
    return json.dumps(data).encode()


@pytest.mark.parametrize("server", ["uvicorn", "werkzeug"])
def test_tenant_databases_in_real_servers_follow_a_password_change(
    server: str,
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Callable[..., RegistryManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    manager.start()
    app = starlette_app(manager) if server == "uvicorn" else flask_app(manager)
    serve = uvicorn_server if server == "uvicorn" else werkzeug_server
    with serve(app) as served, httpx.Client(base_url=served.url, timeout=10) as client:

        def get(value: bytes | None) -> dict[str, Any]:
            headers = {} if value is None else {"soajsinjectobj": value.decode()}
            response = client.get("/", headers=headers)
            assert response.status_code == 200
            assert SECRET not in response.text
            return dict(response.json())

        first = get(RAW)
        assert first["name"] == first["driver_name"] == "TST1_orders"
        assert first["password"] is True
        assert first["config"] == {"greeting": "hello from key config", "limit": 5}
        other = get(header("T2"))
        assert other["driver_name"] == "T2_orders" and other["client"] == first["client"]
        hostile = get(header("../admin"))
        assert hostile["error"] == "TenantCodeError"
        assert get(None) == {"context": None}  # no header: no context, no database

        registry_data["tenantMetaDB"]["orders"]["credentials"]["password"] = "rotated"
        write_json(registry_file, registry_data)
        manager.reload()
        after = get(RAW)
        assert after["client"] != first["client"] and after["password"] is False
        assert after["driver_name"] == "TST1_orders"

        del registry_data["tenantMetaDB"]["orders"]
        write_json(registry_file, registry_data)
        manager.reload()
        assert get(RAW)["error"] == "TenantDatabaseNotFoundError"
    assert SECRET not in caplog.text and "rotated" not in caplog.text
