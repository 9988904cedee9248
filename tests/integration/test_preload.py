"""``gunicorn --preload -w 2``: the maintenance listener lives in a worker, never in the master.

Before: the app was imported in the master, whose listener thread answered
200 with both workers SIGSTOPped. Now the master hands the listener to its
workers before forking (soajs.workers): one worker holds the port, the other
stands by. With the workers stopped the probe gets no answer (red); when the
holder dies the other worker takes the port over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from soajs.controlplane import ControlPlaneServer
from tests.conftest import ROOT
from tests.support import free_port, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]


def _uvicorn_worker_class() -> str | None:
    """gunicorn's worker class for uvicorn: uvicorn.workers (older) or uvicorn-worker."""
    for module in ("uvicorn_worker", "uvicorn.workers"):
        probe = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", f"import {module}"], capture_output=True
        )
        if probe.returncode == 0:
            return f"{module}.UvicornWorker"
    return None


@contextmanager
def gunicorn(
    app: str, plane: ControlPlaneServer, tmp_path: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], int, int, Path]]:
    service, maintenance = free_port(), free_port()
    log, stderr = tmp_path / "soajs.log", tmp_path / "stderr"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))},
        "SOAJS_REGISTRY_API": plane.address,
        "SOAJS_ENV": "dev",
        "SOAJS_TRUSTED_GATEWAYS": "127.0.0.1",
        "TEST_SERVICE_PORT": str(service),
        "TEST_MAINTENANCE_PORT": str(maintenance),
        "TEST_LOG": str(log),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b",
             f"127.0.0.1:{service}", "--graceful-timeout", "3", *extra, app],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        yield proc, service, maintenance, log
    finally:
        proc.send_signal(signal.SIGTERM)
        for pid in _children(proc.pid):
            os.kill(pid, signal.SIGCONT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _holder(port: int, timeout: float = 1.0) -> int | None:
    """The pid the maintenance listener names, or None when it does not answer 200 in time."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/heartbeat", timeout=timeout)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    fields = dict(
        p.strip().partition("=")[::2] for p in answer.headers["x-soajs-listener"].split(";")[1:]
    )
    return int(fields["pid"])


def _check_preload(app: str, plane: ControlPlaneServer, tmp_path: Path, *extra: str) -> None:
    with gunicorn(app, plane, tmp_path, *extra) as (proc, service, maintenance, log):
        assert wait_until(lambda: len(_children(proc.pid)) == 2, timeout=30)
        assert wait_until(lambda: _holder(maintenance) is not None, timeout=30), (
            tmp_path / "stderr"
        ).read_text()[-3000:]
        workers = _children(proc.pid)
        holder = _holder(maintenance)
        assert holder in workers  # not the master
        assert httpx.get(f"http://127.0.0.1:{service}/pid", timeout=5).status_code == 200

        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            red = [_holder(maintenance, timeout=1.0) is None for _ in range(3)]
            took = time.monotonic() - started
            print(f"{app}: workers stopped: {red.count(True)}/3 probes red in {took:.1f}s")
            assert all(red)  # nobody answers for stopped workers
        finally:
            for pid in workers:
                os.kill(pid, signal.SIGCONT)
        assert wait_until(lambda: _holder(maintenance) == holder, timeout=10)

        # the holder dies: the other worker takes the port over (standby retry, 2 s)
        os.kill(holder, signal.SIGKILL)
        started = time.monotonic()
        assert wait_until(lambda: _holder(maintenance) not in (None, holder), timeout=15), (
            log.read_text()[-3000:]
        )
        took = time.monotonic() - started
        new_holder = _holder(maintenance)
        print(f"{app}: port taken over in {took:.1f}s by {new_holder} (master {proc.pid})")
        assert new_holder in workers or new_holder in _children(proc.pid)
        text = log.read_text()
        assert f"{proc.pid} INFO soajs.workers: process {proc.pid} forks before serving" in text
        assert "another worker of this service (pid " in text, text
    assert "Traceback" not in (tmp_path / "stderr").read_text()


def test_gunicorn_preload_flask(tmp_path: Path, control_plane: ControlPlaneServer) -> None:
    _check_preload("tests.integration.fault_apps:wsgi", control_plane, tmp_path)


def test_gunicorn_preload_uvicorn_worker(
    tmp_path: Path, control_plane: ControlPlaneServer, registry_data: dict[str, Any]
) -> None:
    worker = _uvicorn_worker_class()
    if worker is None:
        pytest.skip("no UvicornWorker: neither uvicorn.workers nor uvicorn-worker is installed")
    _check_preload("tests.integration.fault_apps:asgi", control_plane, tmp_path, "-k", worker)
