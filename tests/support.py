"""Helpers for tests that run real servers on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def write_json(path: Path, data: Any) -> None:
    """Write atomically, so a control plane never reads half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    # make sure the mtime changes even within the filesystem's granularity
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


class ControlPlaneProcess:
    """``python -m soajs control-plane`` in a child process, killable like a real one."""

    def __init__(self, registry_file: Path, port: int | None = None) -> None:
        self.registry_file = registry_file
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ControlPlaneProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "soajs",
                "--log-level",
                "WARNING",
                "control-plane",
                "--registry",
                str(self.registry_file),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_until(self.is_up, timeout=timeout, step=0.05):
            self.kill()
            raise RuntimeError(f"control plane did not come up on {self.address}")
        return self

    def is_up(self) -> bool:
        try:
            return httpx.get(f"http://{self.address}/heartbeat", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: the control plane dies without a goodbye, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> ControlPlaneProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
