"""``soajs call SERVICE PATH`` against real HTTP servers on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from soajs.testing import make_inject_header, make_interconnect, make_registry_data
from tests.cli.conftest import soajs
from tests.support import free_port


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append({"method": self.command, "path": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body})  # fmt: skip
        status = 404 if self.path.endswith("/missing") else 200
        payload = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[ThreadingHTTPServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_call_through_the_gateway_named_by_the_registry(server: Any, tmp_path: Any) -> None:
    httpd, seen = server
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(make_registry_data(gateway_port=httpd.server_port)))
    run = soajs("call", "orders", "/list", "--service-version", "2", "--key", "EXT-KEY",
                "--file", str(registry), "--json")  # fmt: skip
    assert run.code == 0, run.err
    assert run.json()["status"] == 200
    assert seen[0]["path"] == "/orders/v2/list"
    assert seen[0]["headers"]["key"] == "EXT-KEY"
    assert "soajsinjectobj" not in seen[0]["headers"]


def test_call_post_json_and_a_failed_status(server: Any) -> None:
    httpd, seen = server
    gateway = f"127.0.0.1:{httpd.server_port}"
    run = soajs("call", "orders", "/add", "-X", "POST", "-d", '{"n": 1}', "-H", "x-trace: abc",
                "--gateway", gateway, "--key", "K")  # fmt: skip
    assert run.code == 0, run.err
    assert seen[0]["body"] == '{"n":1}' or json.loads(seen[0]["body"]) == {"n": 1}
    assert seen[0]["headers"]["x-trace"] == "abc"
    missing = soajs("call", "orders", "/missing", "--gateway", gateway, "--key", "K")
    assert missing.code == 1 and "HTTP 404" in missing.err


def test_call_mesh_direct_as_inside_a_request(server: Any) -> None:
    httpd, seen = server
    entry = make_interconnect("orders", "1", port=httpd.server_port)
    header = make_inject_header(interconnect=[entry])
    run = soajs("call", "orders", "/list", "--inject", header)
    assert run.code == 0, run.err
    assert seen[0]["path"] == "/list"
    assert seen[0]["headers"]["soajsinjectobj"] == header  # forwarded unchanged


def test_call_bad_input_and_unreachable_targets() -> None:
    assert soajs("call", "orders", "/x", "-H", "nocolon", "--gateway", "127.0.0.1:1").code == 2
    assert soajs("call", "orders", "/x", "--gateway", "nohost").code == 2
    refused = soajs("call", "orders", "/x", "--inject", "{")
    assert refused.code == 2 and "not_json" in refused.err
    port = free_port()
    down = soajs("call", "orders", "/x", "--gateway", f"127.0.0.1:{port}", "--deadline", "3")
    assert down.code == 1 and down.err.startswith("soajs: error:")
