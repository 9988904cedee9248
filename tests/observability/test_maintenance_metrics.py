"""``/metrics`` on the real maintenance listener: a failing build is a well-formed 500,
and a storm of concurrent scrapes is answered at once (200 or 503), never queued."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from soajs import Config, RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSWSGIMiddleware
from soajs.observability import workers
from tests.support import free_port, write_json

MakeManager = Callable[..., RegistryManager]


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def listener(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: MakeManager,
) -> Iterator[int]:
    service, port = free_port(), free_port()
    registry_data["serviceConfig"]["ports"]["maintenanceInc"] = port - service
    write_json(registry_file, registry_data)
    config = Config(name="hello", group="Demo", port=service, version="1")
    manager = make_manager("hello", registry_api=control_plane.address, config=config,
                           auto_reload=False)  # fmt: skip
    middleware = SOAJSWSGIMiddleware(_app, manager, trusted_gateways="*")
    try:
        yield port
    finally:
        middleware.close()


def _raw_status_line(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


def test_a_failing_metrics_build_is_500_internal_server_error(
    listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(workers, "aggregate", broken)
    assert _raw_status_line(listener) == b"HTTP/1.1 500 Internal Server Error"


def test_a_hundred_concurrent_scrapes_are_answered_valid_or_busy(listener: int) -> None:
    def scrape(_: int) -> tuple[int, str]:
        answer = httpx.get(f"http://127.0.0.1:{listener}/metrics", timeout=15)
        return answer.status_code, answer.text

    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(scrape, range(100)))
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 503}, statuses
    assert 200 in statuses
    for status, text in answers:
        if status == 200:
            names = [family.name for family in text_string_to_metric_families(text)]
            assert len(names) == len(set(names))
            assert "soajs_registry_ready" in names


def test_a_failing_build_is_logged_once_per_interval(
    listener: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    from soajs.observability import export

    monkeypatch.setattr(workers, "aggregate", broken)
    monkeypatch.setattr(export, "_failure_log", [0.0, 0])
    for _ in range(5):
        assert httpx.get(f"http://127.0.0.1:{listener}/metrics", timeout=10).status_code == 500
    said = [r for r in caplog.records if "/metrics answer failed" in r.getMessage()]
    assert len(said) == 1
    assert "boom" in (said[0].exc_text or "")  # with its traceback
