"""The maintenance listener (port + maintenanceInc) and the health answers, with real servers.

The gateway probes ``GET /heartbeat`` on port + ``serviceConfig.ports.maintenanceInc``
first, then on the service port (PROTOCOL.md). Here the registry comes from a
real local control plane whose ``maintenanceInc`` points the listener at a free
port; the listener is started and stopped by the ASGI lifespan (uvicorn) and by
the WSGI middleware and its ``close()``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi import Request as ASGIRequest
from flask import Flask, request

from soajs import Config, RegistryManager
from soajs.contrib.fastapi import setup
from soajs.contrib.flask import SOAJS
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSWSGIMiddleware, get_soajs_context
from tests.conftest import FIXTURES, ROOT
from tests.integration.servers import (
    maintenance_threads,
    port_is_closed,
    uvicorn_server,
    werkzeug_server,
)
from tests.support import free_port, wait_until, write_json

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
READY = "/ready"

MakeManager = Callable[..., RegistryManager]


def plan_ports(registry_file: Path, registry_data: dict[str, Any]) -> tuple[int, int]:
    """A service port and a free listener port, with the registry's maintenanceInc between."""
    service, listener = free_port(), free_port()
    registry_data["serviceConfig"]["ports"]["maintenanceInc"] = listener - service
    write_json(registry_file, registry_data)
    return service, listener


def config(service_port: int, **maintenance: Any) -> Config:
    return Config(
        name="hello", group="Demo", port=service_port, version="1",
        maintenance={"readiness": READY, **maintenance},
    )  # fmt: skip


def get(port: int, path: str, header: bytes | None = None) -> httpx.Response:
    headers = [] if header is None else [(b"soajsinjectobj", header)]
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def envelope(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def assert_health_answered(port: int, route_service: str = "hello") -> None:
    """``/heartbeat``, the readiness path and ``/reloadRegistry`` answer 200 with the envelope."""
    for path in ("/heartbeat", READY, "/reloadRegistry"):
        body = envelope(get(port, path))
        assert body["result"] is True
        assert body["service"]["route"] == path
        assert body["service"]["service"] == route_service
        assert "errors" not in body


def flask_app(manager: RegistryManager | None, **options: Any) -> Flask:
    app = Flask(__name__)
    SOAJS(app, registry=manager, **options)

    @app.get("/whoami")
    def who() -> Any:
        ctx = get_soajs_context(request)
        return {"tenant": None if ctx is None else ctx.tenant.code}

    return app


def fastapi_app(manager: RegistryManager | None, **options: Any) -> FastAPI:
    app = FastAPI()
    setup(app, registry=manager, **options)

    @app.get("/whoami")
    async def who(req: ASGIRequest) -> Any:
        ctx = get_soajs_context(req)
        return {"tenant": None if ctx is None else ctx.tenant.code}

    return app


def wsgi_middleware(app: Flask) -> SOAJSWSGIMiddleware:
    middleware = app.extensions["soajs"].middleware
    assert isinstance(middleware, SOAJSWSGIMiddleware)
    return middleware


# -- WSGI: started by the middleware, stopped by close() ---------------------------------
def test_wsgi_middleware_serves_the_listener_until_close(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           auto_reload=False)  # fmt: skip
    app = flask_app(manager, trusted_gateways="*")
    middleware = wsgi_middleware(app)
    try:
        assert [t.name for t in maintenance_threads()] == [f"soajs-maintenance-{listener}"]
        assert_health_answered(listener)
        other = get(listener, "/whoami")  # any other path answers as /heartbeat (Node)
        assert other.status_code == 200 and envelope(other)["service"]["route"] == "/heartbeat"
        assert get(listener, "/heartbeat?x=1").status_code == 200

        # /reloadRegistry really reloads
        before = manager.registry
        registry_data["custom"]["greeting"]["value"]["text"] = "reloaded by the listener"
        write_json(registry_file, registry_data)
        assert envelope(get(listener, "/reloadRegistry"))["result"] is True
        assert manager.registry is not before
        assert manager.get_custom("greeting").value["text"] == "reloaded by the listener"

        with werkzeug_server(app) as served:  # the same answers on the service port
            assert_health_answered(served.port)
            assert get(served.port, "/whoami", RAW).json() == {"tenant": "TST1"}
    finally:
        middleware.close()
    assert port_is_closed(listener)
    assert maintenance_threads() == []
    middleware.close()  # idempotent


def test_reload_failure_is_an_envelope_with_result_false(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           auto_reload=False)  # fmt: skip
    middleware = SOAJSWSGIMiddleware(lambda e, s: [], registry=manager)
    try:
        kept = manager.registry
        control_plane.stop()
        body = envelope(get(listener, "/reloadRegistry"), status=503)
        assert body["result"] is False
        assert body["errors"]["details"][0]["message"]
        assert manager.registry is kept  # the last good registry stays
        assert envelope(get(listener, "/heartbeat"))["result"] is True
    finally:
        middleware.close()


# -- ASGI: started and stopped by the app's lifespan under uvicorn ---------------------------
def test_asgi_lifespan_starts_and_stops_the_registry_and_the_listener(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           autostart=False)  # fmt: skip
    app = fastapi_app(manager, trusted_gateways="*")
    assert port_is_closed(listener)
    assert not manager.is_ready
    with uvicorn_server(app, lifespan="on") as served:
        assert manager.is_ready  # loaded during start-up, before the first request
        assert [t.name for t in maintenance_threads()] == [f"soajs-maintenance-{listener}"]
        assert_health_answered(listener)
        assert_health_answered(served.port)
        assert get(served.port, "/whoami", RAW).json() == {"tenant": "TST1"}
    assert port_is_closed(listener)
    assert maintenance_threads() == []
    assert manager.is_stopped  # the middleware started it, so it stopped it


def test_asgi_lifespan_leaves_a_registry_it_did_not_start_running(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service))
    with uvicorn_server(fastapi_app(manager, trusted_gateways="*"), lifespan="on"):
        assert envelope(get(listener, "/heartbeat"))["result"] is True
    assert port_is_closed(listener)
    assert not manager.is_stopped
    assert manager.is_running


# -- two workers, one port ----------------------------------------------------------------
def test_two_workers_competing_for_the_port_both_keep_working(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           auto_reload=False)  # fmt: skip
    first_app = flask_app(manager, trusted_gateways="*")
    first = wsgi_middleware(first_app)
    second_app = flask_app(manager, trusted_gateways="*")  # binding fails: no crash
    second = wsgi_middleware(second_app)
    try:
        assert first.core.listener is not None and first.core.listener.is_serving
        assert second.core.listener is not None and not second.core.listener.is_serving
        assert len(maintenance_threads()) == 1
        # a third worker, ASGI this time, starts and stops without touching the port
        with (
            uvicorn_server(fastapi_app(manager, trusted_gateways="*"), lifespan="on") as third,
            werkzeug_server(first_app) as one,
            werkzeug_server(second_app) as two,
        ):
            for port in (one.port, two.port, third.port):
                assert get(port, "/whoami", RAW).json() == {"tenant": "TST1"}
                assert envelope(get(port, READY))["result"] is True
        assert envelope(get(listener, "/heartbeat"))["result"] is True  # still the first's
        second.close()
        assert envelope(get(listener, "/heartbeat"))["result"] is True
    finally:
        first.close()
        second.close()
    assert port_is_closed(listener)
    assert maintenance_threads() == []


# -- readiness follows the registry ------------------------------------------------------------
def test_readiness_is_503_before_the_registry_loads_and_200_after(
    registry_file: Path, make_manager: MakeManager
) -> None:
    plane = ControlPlaneServer(registry_file)  # bound, not answering yet
    listener = free_port()
    try:
        manager = make_manager(
            "hello",
            registry_api=plane.address,
            config=config(free_port(), port={"type": "custom", "value": listener}),
            start_degraded=True,
            max_backoff=0.2,
        )
        assert not manager.is_ready
        app = flask_app(manager, trusted_gateways="*", strict=True)
        middleware = wsgi_middleware(app)
        try:
            with werkzeug_server(app) as served:
                for port in (listener, served.port):
                    body = envelope(get(port, READY), status=503)
                    assert body["result"] is False
                    assert body["errors"]["codes"] == [503]
                    assert envelope(get(port, "/heartbeat"))["result"] is True  # alive anyway
                plane.start()
                assert wait_until(lambda: manager.is_ready, timeout=10)
                for port in (listener, served.port):
                    assert envelope(get(port, READY))["result"] is True
        finally:
            middleware.close()
    finally:
        plane.stop()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_health_paths_are_exempt_from_strict_mode(
    kind: str,
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           auto_reload=False)  # fmt: skip
    if kind == "asgi":
        server = uvicorn_server(fastapi_app(manager, strict=True, trusted_gateways="*"))
        close: Callable[[], None] = lambda: None  # noqa: E731  (the lifespan stops it)
    else:
        app = flask_app(manager, strict=True, trusted_gateways="*")
        server = werkzeug_server(app)
        close = wsgi_middleware(app).close
    try:
        with server as served:
            assert_health_answered(served.port)
            assert_health_answered(listener)
            refused = get(served.port, "/whoami")
            assert refused.status_code == 400
            assert refused.headers["content-type"] == "application/problem+json"
            assert json.loads(refused.content)["status"] == 400
            assert get(served.port, "/whoami", RAW).json() == {"tenant": "TST1"}
    finally:
        close()
    assert maintenance_threads() == []


def test_the_listener_moves_to_the_registry_port_once_the_registry_loads(
    registry_file: Path, registry_data: dict[str, Any], make_manager: MakeManager
) -> None:
    """Built before the registry loads, the listener cannot know maintenanceInc yet.

    It answers on the gateway's default (port + 1000) meanwhile, and on port +
    maintenanceInc once the registry says so: that is where the gateway probes.
    """
    service, listener = plan_ports(registry_file, registry_data)
    plane = ControlPlaneServer(registry_file)  # bound, not answering yet
    try:
        manager = make_manager("hello", registry_api=plane.address, config=config(service),
                               start_degraded=True, max_backoff=0.2)  # fmt: skip
        assert not manager.is_ready
        middleware = SOAJSWSGIMiddleware(lambda e, s: [], registry=manager)
        try:
            plane.start()
            assert wait_until(lambda: manager.is_ready, timeout=10)
            assert wait_until(lambda: not port_is_closed(listener), timeout=10)
            assert envelope(get(listener, READY))["result"] is True
            assert [t.name for t in maintenance_threads()] == [f"soajs-maintenance-{listener}"]
        finally:
            middleware.close()
        assert port_is_closed(listener)
        assert maintenance_threads() == []
    finally:
        plane.stop()


@pytest.mark.slow
def test_uvicorn_with_two_worker_processes_shares_one_listener(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The real thing: ``uvicorn examples.fastapi_app:app --workers 2``. Both workers try
    to bind port + maintenanceInc; one does, the other goes on, and all requests work."""
    service, listener = plan_ports(registry_file, registry_data)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")},
        "SOAJS_REGISTRY_API": control_plane.address,
        "SOAJS_ENV": "dev",
        "SOAJS_SERVICE_PORT": str(service),
        "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1",
    }
    log, log_config = tmp_path / "uvicorn.log", tmp_path / "logging.json"
    log_config.write_text(json.dumps({  # soajs's INFO lines too, to see who bound the port
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": "INFO", "handlers": ["err"]},
    }))  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--workers", "2",
             "--host", "127.0.0.1", "--port", str(service), "--log-config", str(log_config)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def both_workers_up() -> bool:
            return log.read_text().count("Application startup complete") == 2

        assert wait_until(both_workers_up, timeout=30), log.read_text()[-3000:]
        assert envelope(get(listener, "/heartbeat"))["result"] is True
        with httpx.Client(base_url=f"http://127.0.0.1:{service}", timeout=10) as client:
            for _ in range(20):  # new connections, spread over both workers
                response = client.get("/whoami", headers=[(b"soajsinjectobj", RAW),
                                                          (b"connection", b"close")])  # fmt: skip
                assert response.status_code == 200
                assert response.json()["tenant"]["code"] == "TST1"
            assert envelope(client.get("/heartbeat"))["result"] is True
        # the listener binds where uvicorn binds; the other worker says who holds it
        assert wait_until(lambda: "stands by" in log.read_text(), timeout=10), log.read_text()
        text = log.read_text()
        assert text.count(f"maintenance listener on 127.0.0.1:{listener}") == 1, text
        assert "another worker of this service (pid " in text, text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert port_is_closed(listener)
    assert port_is_closed(service)


# -- where it binds -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("srv_ip", "expected_host"),
    [
        pytest.param("127.0.0.2", "127.0.0.2", id="the-advertised-ip"),
        pytest.param("192.0.2.10", "0.0.0.0", id="not-a-local-address-falls-back-to-any"),
    ],
)
def test_a_self_registering_service_listens_on_the_ip_it_advertises(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
    srv_ip: str,
    expected_host: str,
) -> None:
    """Two instances on two IPs of one machine must not answer each other's health checks."""
    service, listener = plan_ports(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=config(service),
                           auto_reload=False, deploy_manual=True, srv_ip=srv_ip)  # fmt: skip
    middleware = wsgi_middleware(flask_app(manager, trusted_gateways="*"))
    try:
        assert middleware.core.listener is not None
        assert middleware.core.listener.host == expected_host
        answer = httpx.get(f"http://{srv_ip if expected_host != '0.0.0.0' else '127.0.0.1'}"
                           f":{listener}/heartbeat", timeout=10)  # fmt: skip
        assert answer.status_code == 200
        if expected_host == "127.0.0.2":  # not on another loopback address
            assert port_is_closed(listener, "127.0.0.1")
    finally:
        middleware.close()


def test_a_kept_alive_connection_does_not_outlive_stop() -> None:
    """The gateway's agent keeps connections alive: after stop() nothing may answer."""
    import socket

    from soajs.middleware import HealthEndpoints, MaintenanceListener

    listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
    assert listener.start()
    assert listener.port is not None
    probe = b"GET /heartbeat HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(probe)
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            first += chunk
        assert first.startswith(b"HTTP/1.1 200")
        listener.stop()
        try:
            sock.sendall(probe)
            second = sock.recv(4096)
        except OSError:
            second = b""
        assert second == b""  # closed after the one answer, not served by a leftover thread
    assert maintenance_threads() == []
