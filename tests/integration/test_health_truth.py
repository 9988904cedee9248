"""Health that tells the truth, and a listener that binds where the server binds.

Real uvicorn and werkzeug servers on loopback; the registry from a real local
control plane whose ``maintenanceInc`` points the listener at a free port.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from werkzeug.serving import make_server

from soajs import Config, RegistryManager
from soajs.contrib.fastapi import setup
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import HealthEndpoints, MaintenanceListener, SOAJSWSGIMiddleware
from tests.integration.servers import maintenance_threads, port_is_closed
from tests.support import free_port, wait_until, write_json

MakeManager = Callable[..., RegistryManager]


def _plan(registry_file: Path, registry_data: dict[str, Any]) -> tuple[int, int]:
    service, listener = free_port(), free_port()
    registry_data["serviceConfig"]["ports"]["maintenanceInc"] = listener - service
    write_json(registry_file, registry_data)
    return service, listener


def _config(service: int) -> Config:
    return Config(name="hello", group="Demo", port=service, maintenance={"readiness": "/ready"})


@contextmanager
def uvicorn_on(app: Any, host: str, port: int) -> Iterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error",
                                           lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive(), timeout=15)
        assert server.started
        yield server
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive()


def _blocking_app(manager: RegistryManager, **options: Any) -> FastAPI:
    app = FastAPI()
    setup(app, registry=manager, trusted_gateways="*", **options)

    @app.get("/block")
    async def block(seconds: float) -> dict[str, float]:
        time.sleep(seconds)  # blocks the event loop: the fault being probed
        return {"slept": seconds}

    return app


@pytest.mark.slow
def test_a_blocked_event_loop_turns_the_maintenance_probes_red(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    """Before: the service port timed out while maintenance /heartbeat answered 200 in 1 ms."""
    service, listener = _plan(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=_config(service),
                           auto_reload=False)  # fmt: skip
    app = _blocking_app(manager, stall_timeout=0.5)
    with uvicorn_on(app, "127.0.0.1", service):
        probe = f"http://127.0.0.1:{listener}"
        assert httpx.get(probe + "/heartbeat", timeout=5).status_code == 200
        blocker = threading.Thread(
            target=lambda: httpx.get(f"http://127.0.0.1:{service}/block?seconds=3", timeout=10)
        )
        blocker.start()
        time.sleep(0.3)  # the handler is now sleeping on the loop
        try:
            for path in ("/heartbeat", "/ready"):
                started = time.monotonic()
                answer = httpx.get(probe + path, timeout=5)
                took = time.monotonic() - started
                print(f"blocked loop: {path} {answer.status_code} in {took:.2f}s")
                assert answer.status_code == 503
                assert (
                    "did not answer within 0.5s" in answer.json()["errors"]["details"][0]["message"]
                )
                assert took < 1.5  # 3x the stall timeout
            with pytest.raises(httpx.TimeoutException):  # the truth on the service port
                httpx.get(f"http://127.0.0.1:{service}/heartbeat", timeout=0.5)
        finally:
            blocker.join(10)
        assert httpx.get(probe + "/heartbeat", timeout=5).status_code == 200
        assert httpx.get(probe + "/ready", timeout=5).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_listener_binds_the_address_the_asgi_server_binds(
    host: str,
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    """Before: 0.0.0.0 always; an IPv6-only service got a listener refusing [::1]."""
    service, listener = _plan(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=_config(service),
                           auto_reload=False)  # fmt: skip
    app = _blocking_app(manager)
    url_host = f"[{host}]" if ":" in host else host
    with uvicorn_on(app, host, service):
        assert httpx.get(f"http://{url_host}:{service}/heartbeat", timeout=5).status_code == 200
        assert wait_until(lambda: not port_is_closed(listener, host), timeout=5)
        answer = httpx.get(f"http://{url_host}:{listener}/heartbeat", timeout=5)
        assert answer.status_code == 200
        other = "127.0.0.1" if host == "::1" else "::1"
        assert port_is_closed(listener, other)  # only where the server is
        assert port_is_closed(listener, _external_ip() or other)
    assert maintenance_threads() == []


def _external_ip() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent
            ip: str = sock.getsockname()[0]
            return None if ip.startswith("127.") else ip
    except OSError:
        return None


def test_the_wsgi_listener_follows_the_server_to_its_address(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> None:
    """Built before the server binds (as a Flask app is): moves once the server listens."""
    service, listener = _plan(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=_config(service),
                           auto_reload=False)  # fmt: skip
    middleware = SOAJSWSGIMiddleware(lambda e, s: [], registry=manager)
    listener_obj = middleware.core.listener
    assert listener_obj is not None
    server = make_server("127.0.0.1", service, middleware, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: listener_obj.host == "127.0.0.1", timeout=5)
        assert httpx.get(f"http://127.0.0.1:{listener}/heartbeat", timeout=5).status_code == 200
        ip = _external_ip()
        if ip is not None:
            assert port_is_closed(listener, ip)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        middleware.close()


def test_an_explicit_maintenance_host_wins(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, listener = _plan(registry_file, registry_data)
    manager = make_manager("hello", registry_api=control_plane.address, config=_config(service),
                           auto_reload=False)  # fmt: skip
    monkeypatch.setenv("SOAJS_MAINTENANCE_HOST", "::1")
    middleware = SOAJSWSGIMiddleware(lambda e, s: [], registry=manager)
    try:
        assert httpx.get(f"http://[::1]:{listener}/heartbeat", timeout=5).status_code == 200
        assert port_is_closed(listener, "127.0.0.1")
    finally:
        middleware.close()


# -- "address in use" says what is true --------------------------------------------------
def test_a_port_held_by_another_program_is_named_and_taken_over_when_freed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen(1)  # accepts into the backlog, never answers
    listener = MaintenanceListener(HealthEndpoints(), port, host="127.0.0.1")
    listener.standby_interval = 0.3
    caplog.set_level(logging.INFO, "soajs")
    try:
        assert listener.start() is False
        assert wait_until(lambda: "stands by" in caplog.text, timeout=10)
        assert "a process holds it but does not answer" in caplog.text
        assert "another worker" not in caplog.text
        assert any(r.levelno == logging.WARNING for r in caplog.records if "stands by" in r.msg)
        squatter.close()
        assert wait_until(lambda: listener.is_serving, timeout=5)
        assert httpx.get(f"http://127.0.0.1:{port}/heartbeat", timeout=5).status_code == 200
        assert "took port" in caplog.text
    finally:
        squatter.close()
        listener.stop()


def test_a_port_held_by_an_http_server_is_another_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def plain(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    other = make_server("127.0.0.1", 0, plain)
    thread = threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    listener = MaintenanceListener(HealthEndpoints(), other.server_port, host="127.0.0.1")
    caplog.set_level(logging.INFO, "soajs")
    try:
        assert listener.start() is False
        assert wait_until(lambda: "stands by" in caplog.text, timeout=10)
        assert "another program holds it (it answers HTTP, but not as a SOAJS listener)" in (
            caplog.text
        )
    finally:
        listener.stop()
        other.shutdown()
        other.server_close()
        thread.join(5)


def test_a_port_held_by_another_soajs_service_names_it(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    holder = MaintenanceListener(HealthEndpoints(service="orders"), port, host="127.0.0.1")
    assert holder.start()
    try:
        # another process would be the real case; in-process, pretend the holder is elsewhere
        from soajs.middleware import listener_loop as listener_module

        listener_module.IN_PROCESS.pop(port, None)
        second = MaintenanceListener(HealthEndpoints(service="hello"), port, host="127.0.0.1")
        caplog.set_level(logging.INFO, "soajs")
        try:
            assert second.start() is False
            assert wait_until(lambda: "stands by" in caplog.text, timeout=10)
            assert "another SOAJS service, 'orders'" in caplog.text
        finally:
            second.stop()
    finally:
        holder.stop()


def test_reload_on_the_listener_awaits_the_async_answer_when_there_is_one() -> None:
    """With HealthEndpoints.answer_async (the registry's own worker does the I/O), the
    listener awaits it on its loop: no thread of its own for /reloadRegistry."""

    class AsyncHealth(HealthEndpoints):
        async def answer_async(self, method: str, path: str) -> Any:
            return self.unhealthy(path, f"answered on {threading.current_thread().name}")

    listener = MaintenanceListener(AsyncHealth(), free_port(), host="127.0.0.1")
    assert listener.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{listener.port}/reloadRegistry", timeout=5)
        assert answer.status_code == 503
        message = answer.json()["errors"]["details"][0]["message"]
        assert message == f"answered on soajs-maintenance-{listener.port}"
    finally:
        listener.stop()
