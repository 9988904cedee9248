"""The kit's clients, offline registry and plugin fixtures, against real framework apps."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from flask import Flask, g
from pytest_httpx import HTTPXMock

from soajs import RegistryManager
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.middleware import SOAJSWSGIMiddleware, get_soajs_context
from soajs.testing import (
    asgi_async_client,
    asgi_client,
    make_inject_header,
    make_registry_data,
    wsgi_client,
    wsgi_header_environ,
)

HEADER = make_inject_header(tenant_name="Café")


def fastapi_app(registry: Any = None) -> FastAPI:
    app = FastAPI()
    setup(app, registry=registry, trusted_gateways="127.0.0.1", maintenance_listener=False)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        ctx = get_soajs_context(request)
        main = ctx.registry.core_dbs["main"].name if ctx and ctx.registry else None
        return {"tenant": ctx and ctx.tenant.code, "name": ctx and ctx.tenant.name, "db": main}

    return app


def flask_app(registry: Any = None) -> Flask:
    app = Flask(__name__)
    SOAJS(app, registry=registry, trusted_gateways="127.0.0.1", maintenance_listener=False)

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        ctx = g.soajs
        return {"tenant": ctx and ctx.tenant.code, "name": ctx and ctx.tenant.name}

    return app


def test_starlette_testclient_default_peer_is_not_trusted_but_the_kit_client_is() -> None:
    app = fastapi_app()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    plain = TestClient(app)  # peer "testclient": matches no trusted list
    assert (
        plain.get("/whoami", headers={"soajsinjectobj": HEADER.encode()}).json()["tenant"] is None
    )
    with asgi_client(app, HEADER) as client:
        assert client.get("/whoami").json() == {"tenant": "TST1", "name": "Café", "db": None}
    # a peer outside the trusted list still gets nothing: the kit does not bypass trust
    with asgi_client(app, HEADER, peer=("10.9.9.9", 1)) as client:
        assert client.get("/whoami").json()["tenant"] is None


def test_async_client() -> None:
    async def call() -> dict[str, Any]:
        async with asgi_async_client(fastapi_app(), HEADER) as client:
            response = await client.get("/whoami")
            return dict(response.json())

    assert asyncio.run(call())["name"] == "Café"


def test_flask_and_plain_wsgi_clients_send_utf8_as_a_real_server_does() -> None:
    client = wsgi_client(flask_app(), HEADER)
    assert client.get("/whoami").json == {"tenant": "TST1", "name": "Café"}
    other = make_inject_header(tenant_code="OTHER")
    answer = client.get("/whoami", environ_overrides=wsgi_header_environ(other)).json
    assert answer is not None and answer["tenant"] == "OTHER"
    outside = wsgi_client(flask_app(), HEADER, peer="10.9.9.9").get("/whoami").json
    assert outside == {"tenant": None, "name": None}

    def raw(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        ctx = environ.get("soajs.context")
        start_response("200 OK", [("content-type", "text/plain")])
        return [(ctx.tenant.name if ctx else "none").encode()]

    wrapped = SOAJSWSGIMiddleware(raw, None, trusted_gateways="127.0.0.1")
    assert wsgi_client(wrapped, HEADER).get("/").text == "Café"


def test_offline_registry_reaches_contexts_and_reloads_without_a_thread() -> None:
    data = make_registry_data(custom={"greeting": "hi"})
    registry = RegistryManager.from_dict(data, "hello")
    assert registry.is_ready and not registry.is_running
    assert registry.get_custom("greeting").value == "hi"
    with asgi_client(fastapi_app(registry), HEADER) as client:
        assert client.get("/whoami").json()["db"] == "main"
        data["custom"]["greeting"]["value"] = "hello again"
        assert client.get("/reloadRegistry").status_code == 200
    assert registry.get_custom("greeting").value == "hello again"
    assert not registry.is_running
    registry.stop()


def test_offline_registry_refuses_a_bad_registry_with_the_field_path(tmp_path: Any) -> None:
    from soajs import ConfigurationError

    bad = make_registry_data()
    bad["serviceConfig"]["ports"]["controller"] = "not a port"
    with pytest.raises(ConfigurationError, match=r"serviceConfig\.ports\.controller"):
        RegistryManager.from_dict(bad)
    path = tmp_path / "r.json"
    path.write_text("{nope")
    with pytest.raises(ConfigurationError, match="not JSON"):
        RegistryManager.from_file(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        RegistryManager.from_file(tmp_path / "missing.json")


def test_plugin_gateway_client_and_offline_registry(
    soajs_gateway_client: Any, soajs_registry: RegistryManager
) -> None:
    client = soajs_gateway_client(fastapi_app(soajs_registry), HEADER)
    assert client.get("/whoami").json() == {"tenant": "TST1", "name": "Café", "db": "main"}
    flask_client = soajs_gateway_client(flask_app(soajs_registry), HEADER)
    assert flask_client.get("/whoami").json["name"] == "Café"


def test_live_registry_from_the_plugin_control_plane_next_to_httpx_mock(
    httpx_mock: HTTPXMock, soajs_control_plane: Any
) -> None:
    """httpx_mock requested *before* the control plane: the manager's calls still
    reach the real control plane, other calls are mocked."""
    httpx_mock.add_response(url="http://api.example/x", json={"mocked": True})
    with RegistryManager("hello", auto_reload=False, broadcast=False) as registry:
        assert registry.get_database("main").name == "main"
        registry.reload()
    assert httpx.get("http://api.example/x").json() == {"mocked": True}
    assert soajs_control_plane.store.calls["/getRegistry"] == 2


def test_same_with_the_fixtures_the_other_way_round(
    soajs_control_plane: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url="http://api.example/x", json={"mocked": True})
    with RegistryManager("hello", auto_reload=False, broadcast=False) as registry:
        assert registry.awareness is not None and registry.awareness.port == 4000
    assert httpx.get("http://api.example/x").json() == {"mocked": True}


@pytest.mark.httpx_mock(should_mock=lambda request: True)
def test_a_test_that_mocks_everything_keeps_its_choice(
    soajs_control_plane: Any, httpx_mock: HTTPXMock
) -> None:
    from soajs import ControlPlaneError

    httpx_mock.add_response(
        json={"result": False, "errors": {"details": [{"code": 1, "message": "mocked"}]}}
    )
    with pytest.raises(ControlPlaneError, match="mocked"):
        RegistryManager("hello", auto_reload=False, broadcast=False)
    assert soajs_control_plane.store.calls["/getRegistry"] == 0


def test_the_real_maintenance_listener_on_a_kit_port_pair() -> None:
    from soajs.testing import make_config

    config = make_config()
    registry = RegistryManager.from_dict(make_registry_data(), "hello", config=config)
    app = FastAPI()
    setup(app, registry=registry, trusted_gateways="127.0.0.1")  # listener on (the default)
    url = f"http://127.0.0.1:{config.port + 1000}/heartbeat"
    with asgi_client(app):
        assert httpx.get(url, timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):  # stopped with the lifespan
        httpx.get(url, timeout=5)
    registry.stop()


def test_reset_middleware_clears_a_shared_apps_context_cache() -> None:
    from soajs.testing import reset_middleware

    def cached(app: Any) -> list[int]:
        sizes: list[int] = []
        stack, seen = [app], set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            core = getattr(node, "core", None)
            if core is not None:
                sizes.append(len(core.resolver.cache))
            stack += [getattr(node, a, None) for a in ("app", "wsgi_app", "middleware_stack")]
        return sizes

    asgi = fastapi_app()
    with asgi_client(asgi, HEADER) as client:
        client.get("/whoami")
    assert cached(asgi) == [1]
    assert reset_middleware(asgi) == 1 and cached(asgi) == [0]

    wsgi = flask_app()
    wsgi_client(wsgi, HEADER).get("/whoami")
    assert cached(wsgi) == [1]
    assert reset_middleware(wsgi) == 1 and cached(wsgi) == [0]


def test_offline_registry_from_the_captured_gateway_answer() -> None:
    from tests.conftest import FIXTURES

    registry = RegistryManager.from_file(FIXTURES / "getRegistry_dev_hello.json", "hello")
    assert registry.env_code == "dev"
    assert registry.get_service("controller").port == 4000
    assert registry.get_database("hello_core").name == "hello_core"
    assert "soajs-python holdout rig key" not in repr(registry.registry)
