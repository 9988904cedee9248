"""A real control plane on loopback that records every ``POST /register`` body.

``GET /getRegistry`` answers :attr:`registry` in the envelope; ``POST /register``
appends the JSON body to :attr:`registrations` and answers ``result: true``
(``refuse=True``: ``result: false``, as an HA gateway does; ``hang=True``: never
answers until stopped). Threads only; stopped by :meth:`stop`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import SAMPLE_REGISTRY


class RecordingPlane:
    def __init__(
        self, registry: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if registry is None:
            registry = json.loads(SAMPLE_REGISTRY.read_text())
        self.registry = registry
        self.host = host
        self.registrations: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.refuse = False
        self.refuse_body: dict[str, Any] = {"result": False, "ts": 0, "service": {}}
        self.hang = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        plane = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with plane._lock:
                    plane.paths.append(path)
                    registry = copy.deepcopy(plane.registry)
                if path == "/getRegistry":
                    self._send({"result": True, "ts": 0, "service": {}, "data": registry})
                else:
                    self._send({"result": True, "ts": 0, "service": {}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with plane._lock:
                    plane.paths.append(path)
                if plane.hang:
                    plane._stopping.wait(60)
                    return
                if path != "/register":
                    self._send({"result": False, "ts": 0, "service": {}})
                    return
                body = json.loads(raw or b"{}")
                with plane._lock:
                    plane.registrations.append(body)
                if plane.refuse:
                    self._send(plane.refuse_body)
                else:
                    self._send({"result": True, "ts": 0, "service": {}, "data": {"ok": 1}})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> RecordingPlane:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def count(self) -> int:
        with self._lock:
            return len(self.registrations)

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.02)
        return False


def registry_with_controllers(*hosts: tuple[str, int]) -> dict[str, Any]:
    """The sample registry whose controller hosts are ``hosts`` (one port for all:
    the controller port + maintenanceInc of the first; the others must share it)."""
    data: dict[str, Any] = json.loads(SAMPLE_REGISTRY.read_text())
    ports = {port for _, port in hosts}
    assert len(ports) == 1, "controller hosts share one port in a registry"
    (port,) = ports
    data["serviceConfig"]["ports"]["maintenanceInc"] = 1000
    data["services"]["controller"]["port"] = port - 1000
    data["services"]["controller"]["hosts"] = {"latest": "1", "1": [h for h, _ in hosts]}
    return data
