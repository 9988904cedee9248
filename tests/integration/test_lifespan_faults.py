"""Start-up under faults, with real uvicorn processes (``--lifespan auto``, the default).

Before: with the control plane down, the RegistryError escaped the lifespan,
uvicorn logged only "ASGI 'lifespan' protocol appears unsupported" and served a
half-started app. Now: the default refuses to start with a message saying
what failed (exit code 3); ``start_degraded=True`` serves with a WARNING,
readiness 503 until the control plane answers, then 200.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from soajs.controlplane import ControlPlaneServer
from tests.conftest import ROOT
from tests.support import free_port, wait_until, write_json


def _env(control_plane: str, service: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))},
        "SOAJS_REGISTRY_API": control_plane,
        "SOAJS_ENV": "dev",
        "SOAJS_REGISTRY_TIMEOUT": "1",
        "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1",
        "TEST_SERVICE_PORT": str(service),
        **extra,
    }


@contextmanager
def uvicorn_process(
    env: dict[str, str], port: int, stderr: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.fault_apps:asgi",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_control_plane_down_at_start_stops_uvicorn_with_a_clear_message(tmp_path: Path) -> None:
    service, down = free_port(), free_port()  # nothing listens on `down`
    stderr = tmp_path / "stderr"
    started = time.monotonic()
    with uvicorn_process(_env(f"127.0.0.1:{down}", service), service, stderr) as proc:
        code = proc.wait(30)
    took = time.monotonic() - started
    text = stderr.read_text()
    print(f"control plane down: exit {code} after {took:.1f}s")
    assert code == 3, text  # uvicorn's "startup failed"
    assert "appears unsupported" not in text
    assert "SOAJS start-up failed: ControlPlaneError" in text
    assert f"127.0.0.1:{down}" in text  # where it looked
    assert "start_degraded=True" in text  # what to do
    assert "Application startup failed. Exiting." in text


def test_a_maintenance_port_beyond_65535_stops_uvicorn_with_a_configuration_error(
    tmp_path: Path, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    registry_data["serviceConfig"]["ports"]["maintenanceInc"] = 1000
    write_json(registry_file, registry_data)
    stderr = tmp_path / "stderr"
    with ControlPlaneServer(registry_file) as plane:
        env = _env(plane.address, 64600)  # 64600 + 1000 > 65535
        with uvicorn_process(env, free_port(), stderr) as proc:
            code = proc.wait(30)
    text = stderr.read_text()
    assert code == 3, text
    assert "OverflowError" not in text
    assert "ConfigurationError" in text
    assert "65600" in text and "64600" in text and "maintenanceInc 1000" in text


@pytest.mark.slow
def test_degraded_start_serves_with_a_warning_and_readiness_follows_the_control_plane(
    tmp_path: Path, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    service, maintenance = free_port(), free_port()
    plane = ControlPlaneServer(registry_file)  # bound, not answering yet
    stderr = tmp_path / "stderr"
    env = _env(plane.address, service, TEST_START_DEGRADED="1",
               TEST_MAINTENANCE_PORT=str(maintenance))  # fmt: skip
    try:
        with uvicorn_process(env, service, stderr):

            def up() -> bool:
                return "Application startup complete" in stderr.read_text()

            assert wait_until(up, timeout=30), stderr.read_text()
            text = stderr.read_text()
            assert "serving WITHOUT a registry" in text
            assert "/ready (readiness) answers 503 until it loads" in text
            for port in (service, maintenance):
                assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 503
                assert httpx.get(f"http://127.0.0.1:{port}/heartbeat", timeout=5).status_code == 200
            plane.start()

            def ready(port: int) -> Callable[[], bool]:
                return lambda: httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200

            for port in (service, maintenance):
                assert wait_until(ready(port), timeout=15), stderr.read_text()
    finally:
        plane.stop()


# -- WSGI: no lifespan; the app does not load, and the server says why ---------------------
def _gunicorn_exit(env: dict[str, str], stderr: Path) -> int:
    with stderr.open("wb") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{free_port()}",
             "tests.integration.fault_apps:wsgi"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, timeout=60,
        )  # fmt: skip
    return proc.returncode


def test_wsgi_under_gunicorn_with_the_control_plane_down_does_not_start(tmp_path: Path) -> None:
    down = free_port()
    stderr = tmp_path / "stderr"
    code = _gunicorn_exit(_env(f"127.0.0.1:{down}", free_port()), stderr)
    text = stderr.read_text()
    assert code != 0, text
    assert "Worker failed to boot" in text
    assert (
        f"ControlPlaneError: control plane /getRegistry: cannot reach http://127.0.0.1:{down}"
        in (text)
    )


def test_wsgi_with_a_maintenance_port_beyond_65535_does_not_start(
    tmp_path: Path, registry_file: Path, registry_data: dict[str, Any]
) -> None:
    registry_data["serviceConfig"]["ports"]["maintenanceInc"] = 1000
    write_json(registry_file, registry_data)
    stderr = tmp_path / "stderr"
    with ControlPlaneServer(registry_file) as plane:
        code = _gunicorn_exit(_env(plane.address, 64600), stderr)
    text = stderr.read_text()
    assert code != 0, text
    assert "OverflowError" not in text
    errors = [line for line in text.splitlines() if "ConfigurationError" in line]
    assert errors and "65600" in errors[-1] and "64600" in errors[-1], text
