"""Real servers on loopback for the middleware tests: uvicorn, werkzeug, a raw HTTP client.

Every server binds port 0 (no race for a "free" port) and is stopped, and its
thread joined, when the context manager exits.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from werkzeug.serving import make_server

from soajs import current_context
from tests.conftest import ROOT
from tests.support import wait_until


@dataclass
class Served:
    """A running server: its base URL and port."""

    port: int
    server: Any = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def uvicorn_server(app: Any, **config: Any) -> Iterator[Served]:
    """``app`` under a real uvicorn server (own thread and event loop)."""
    config.setdefault("log_level", "error")
    config.setdefault("ws", "websockets-sansio")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **config))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive(), timeout=15)
        assert server.started, "uvicorn did not start"
        port = int(server.servers[0].sockets[0].getsockname()[1])
        yield Served(port, server)
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def werkzeug_server(app: Any, *, threaded: bool = True) -> Iterator[Served]:
    """``app`` under werkzeug's real (threaded by default) WSGI server."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="test-werkzeug", daemon=True
    )
    thread.start()
    try:
        yield Served(server.server_port, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(15)
        assert not thread.is_alive(), "werkzeug did not stop"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes


def raw_get(
    port: int, path: str, headers: list[tuple[bytes, bytes]], *, timeout: float = 10.0
) -> RawResponse:
    """``GET path`` over a plain socket, headers sent byte for byte (no client-side checks).

    HTTP/1.0 with ``Connection: close``: the server answers without chunking and
    closes, so the whole answer is what is read until EOF.
    """
    lines = [b"GET " + path.encode() + b" HTTP/1.0", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    request = b"\r\n".join(lines) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        parsed[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawResponse(int(status_line.split()[1]), parsed, body, raw)


def _dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2 :]
    return b"".join(out)


def port_is_closed(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def maintenance_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("soajs-maintenance-")]


@contextmanager
def child_server(module: str, args: list[str], log: Any) -> Iterator[Any]:
    """``python -m module *args`` in a child process that prints one JSON line once it
    serves (its port, or its ports); yields that line, decoded. ``log`` is a path for
    the child's stderr (a Django child logs its handler errors there)."""
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else b""
        assert line, f"{module} did not start: {Path(log).read_text()[-2000:]}"
        yield json.loads(line)
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def serve_until_killed(app: Any) -> None:
    """The child's side of :func:`child_server`: serve the WSGI ``app`` on a threaded
    werkzeug server on loopback, print its port as one JSON line, serve until killed."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(server.server_port), flush=True)
    threading.Event().wait()  # until the test kills the process


@contextmanager
def django_servers(option_sets: list[dict[str, Any]], log: Any) -> Iterator[list[Served]]:
    """Django (tests/integration/django_server.py) in a child process, one server per option set."""
    args = [json.dumps(option_sets)]
    with child_server("tests.integration.django_server", args, log) as ports:
        yield [Served(int(port), None) for port in ports]


#: Where the wrappers below leave what ``current_context()`` was before the middleware ran.
BEFORE = "test.context_before_middleware"


def _before() -> str | None:
    ctx = current_context()
    return None if ctx is None else f"LEAKED {ctx.tenant.code}"


def wsgi_record_before(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Outside the middleware: ``environ[BEFORE]`` must be None (no context left by a request)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[BEFORE] = _before()
        return app(environ, start_response)

    return wrapped


def asgi_record_before(app: Any) -> Any:
    """Outside the middleware: ``scope[BEFORE]`` must be None (no context left by a request)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            scope[BEFORE] = _before()
        await app(scope, receive, send)

    return wrapped


def probe_body(ctx: Any, before: str | None) -> dict[str, Any]:
    """What every test app's ``/probe`` answers about the request it handled."""
    return {
        "tenant": None if ctx is None else ctx.tenant.code,
        "name": None if ctx is None else ctx.tenant.name,
        "first_name": None if ctx is None or ctx.urac is None else ctx.urac.first_name,
        "current_is_ctx": current_context() is ctx,
        "before": before,
        "geo": None if ctx is None else ctx.geo,  # what a handler might well echo
    }
