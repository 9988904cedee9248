"""A tiny stand-in for the SOAJS gateway, for the demo: routes by path, re-injects the header.

It does what the demo needs of the real ``soajs.controller`` and no more:

* ``/{name}/v{version}/{path}`` (or ``/{name}/{path}``) goes to the hosts the
  local control plane has for that service and version (``latest`` without
  one), tried in order: a host that refuses the connection is skipped, as
  the real gateway drops hosts that fail their health check;
* the tenant key (header ``key``) must be the demo tenant's; without it
  the answer is 403, as from the real gateway;
* a ``soajsinjectobj`` header sent by the client is dropped and a new one
  built: the demo tenant and user (the captured gateway fixture) with an
  ``awareness`` naming this gateway and an ``interConnect`` entry for every
  registered service (its first host);
* the request leaves from ``source_ip``, the address the services trust as
  their gateway; answers carry ``x-soajs-gateway: standin``.

It records what it received (``seen``), without header values.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "gateway-4.3.4"
    / "soajsinjectobj_decoded.json"
)
HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "host", "content-length", "content-encoding"
}  # fmt: skip


@dataclass
class Seen:
    path: str
    had_key: bool
    had_inject_header: bool
    routed_to: str | None


class GatewayStandIn:
    """``GatewayStandIn(control_plane="127.0.0.1:5000", source_ip="127.0.0.2").start()``."""

    def __init__(self, control_plane: str, source_ip: str, env: str = "dev") -> None:
        self.control_plane = control_plane
        self.env = env
        self.tenant = json.loads(FIXTURE.read_text())
        self.e_key: str = self.tenant["key"]["eKey"]
        self.seen: list[Seen] = []
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(local_address=source_ip), timeout=10, trust_env=False
        )
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                gateway._proxy(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> GatewayStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._client.close()

    # -- routing ---------------------------------------------------------------
    def services(self) -> dict[str, Any]:
        """Every registered service: ``{name: {port, hosts: {version: [ip...], latest}}}``."""
        answer = self._client.get(
            f"http://{self.control_plane}/getRegistry",
            params={"env": self.env, "serviceName": "controller", "type": "daemon"},
        )
        services: dict[str, Any] = answer.json()["data"]["services"]
        return {n: s for n, s in services.items() if n != "controller" and s.get("hosts")}

    def inject_header(self, services: dict[str, Any]) -> bytes:
        inter_connect = []
        for name, entry in services.items():
            latest = str(entry["hosts"].get("latest", ""))
            for version, hosts in entry["hosts"].items():
                if version != "latest" and hosts:
                    inter_connect.append(
                        {"name": name, "version": version, "host": hosts[0],
                         "port": entry["port"], "latest": latest}
                    )  # fmt: skip
        obj = dict(
            self.tenant,
            awareness={"host": "127.0.0.1", "port": self.port, "interConnect": inter_connect},
        )
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def _proxy(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        parts = path.lstrip("/").split("/", 2)
        name = parts[0]
        version = None
        if len(parts) > 1 and parts[1][:1] == "v" and parts[1][1:].replace(".", "").isdigit():
            version = parts[1][1:]
            rest = "/" + (parts[2] if len(parts) > 2 else "")
        else:
            rest = "/" + "/".join(parts[1:])
        had_key = handler.headers.get("key") == self.e_key
        seen = Seen(path, had_key, "soajsinjectobj" in handler.headers, None)
        self.seen.append(seen)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if not had_key:
            return _answer(handler, 403, {"result": False, "errors": {"codes": [132]}})
        services = self.services()
        entry: dict[str, Any] = services.get(name) or {"hosts": {}}
        hosts = entry["hosts"].get(version or str(entry["hosts"].get("latest")), [])
        if not hosts:
            return _answer(handler, 404, {"result": False, "errors": {"codes": [151]}})
        headers = [
            (k, v)
            for k, v in handler.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "soajsinjectobj"
        ]
        headers.append(("soajsinjectobj", self.inject_header(services).decode("latin-1")))
        for host in hosts:
            url = f"http://{host}:{entry['port']}{rest}" + (f"?{query}" if query else "")
            try:
                answer = self._client.request(
                    handler.command,
                    url,
                    headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                    content=body,
                )
            except httpx.ConnectError:
                continue  # that host is down: the next one
            seen.routed_to = f"{host}:{entry['port']}"
            return _relay(handler, answer)
        return _answer(handler, 504, {"result": False, "errors": {"codes": [133]}})


def _answer(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("x-soajs-gateway", "standin")
    handler.end_headers()
    handler.wfile.write(body)


def _relay(handler: BaseHTTPRequestHandler, answer: httpx.Response) -> None:
    handler.send_response(answer.status_code)
    for name, value in answer.headers.items():
        if name.lower() not in HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(answer.content)))
    handler.send_header("x-soajs-gateway", "standin")
    handler.end_headers()
    handler.wfile.write(answer.content)
