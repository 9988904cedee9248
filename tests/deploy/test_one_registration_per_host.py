"""``gunicorn -w 2``: one registration per host, not one per worker; a worker that
takes the host over (its holder died) registers again. Real gunicorn, real planes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.recording_plane import RecordingPlane
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
Planes = tuple[RecordingPlane, RecordingPlane]


@pytest.mark.slow
def test_two_gunicorn_workers_register_once_and_a_successor_registers_again(
    planes: Planes, tmp_path: Path
) -> None:
    first, second = planes
    port = free_port()
    run = tmp_path / "run"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")},
        "SOAJS_REGISTRY_API": first.address,
        "SOAJS_ENV": "dev",
        "SOAJS_SRVIP": "127.0.0.1",
        "SOAJS_SERVICE_PORT": str(port),
        "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1",
        "SOAJS_RUNTIME_DIR": str(run),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
             "examples.flask_app:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def served() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/whoami", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(served, timeout=30), log.read_text()[-3000:]
        assert first.wait_count(1) and second.wait_count(1), log.read_text()[-3000:]
        time.sleep(1.5)  # both workers have loaded their registry by now
        assert (first.count(), second.count()) == (1, 1), log.read_text()[-3000:]
        body = first.registrations[0]
        assert {"l": "who", "v": "/whoami", "m": "get"} in body["apiList"]  # Flask's url_map

        # the worker holding the host's registration dies: its successor registers
        holder = int(next(run.glob("*.register")).read_text())
        os.kill(holder, signal.SIGKILL)
        assert first.wait_count(2, timeout=30) and second.wait_count(2, timeout=30), (
            log.read_text()[-3000:]
        )
        assert wait_until(served, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_with_preload_the_master_hands_the_registration_to_one_worker(
    planes: Planes, tmp_path: Path
) -> None:
    first, second = planes
    port = free_port()
    run = tmp_path / "run"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")},
        "SOAJS_REGISTRY_API": first.address,
        "SOAJS_ENV": "dev",
        "SOAJS_SRVIP": "127.0.0.1",
        "SOAJS_SERVICE_PORT": str(port),
        "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1",
        "SOAJS_RUNTIME_DIR": str(run),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b",
             f"127.0.0.1:{port}", "examples.flask_app:app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def holder() -> int | None:
            try:
                return int(next(run.glob("*.register")).read_text())
            except (StopIteration, OSError, ValueError):
                return None

        # the master registered at import, then handed the lock to one worker, which registers
        assert first.wait_count(2, timeout=30) and second.wait_count(2, timeout=30), (
            log.read_text()[-3000:]
        )
        time.sleep(1.5)
        assert (first.count(), second.count()) == (2, 2), log.read_text()[-3000:]
        assert wait_until(lambda: holder() not in (None, proc.pid), timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
