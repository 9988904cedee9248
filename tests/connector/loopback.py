"""Real HTTP servers on loopback for connector tests: a scripted callee and a recording gateway.

``Loopback`` is a threaded HTTP/1.1 server on ``127.0.0.1`` (port 0 unless
told) that records every request it reads (method, path, query, headers),
counts the TCP connections it accepts, and answers each request from a
script of actions, then with the default action:

* ``ok()``: 200 with a small JSON body naming the server;
* ``status(503, {"Retry-After": "0"})``: that status and headers;
* ``drop()``: close the connection without answering;
* ``slow(seconds)``: wait, then answer 200 (the wait ends early on stop);
* ``trickle(n, every)``: 200 with ``Content-Length: n``, then one body byte every ``every`` s;
* ``trickle_headers(every)``: the status line, then one header byte every ``every`` s;
* ``hang_after_headers()``: 200 with ``Content-Length: 100``, then nothing until stop;
* ``huge(n, chunked=False)``: an ``n``-byte body generated on the fly (64 KiB
  writes; with ``Content-Length`` or chunked), given up when the client leaves;
* ``gzip_bomb(n)``: ``Content-Encoding: gzip``, ``n`` zero bytes once decoded;
* ``redirect(location, code=307)``: that status with ``Location``.

``Loopback(host="127.0.0.2")`` listens on another loopback address (another
origin for redirect tests). Actions that stream stop when the server stops.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Action = Callable[["_Handler"], None]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def ok(extra: dict[str, Any] | None = None) -> Action:
    def act(handler: _Handler) -> None:
        handler.answer(200, {}, extra)

    return act


def status(code: int, headers: dict[str, str] | None = None) -> Action:
    def act(handler: _Handler) -> None:
        handler.answer(code, headers or {})

    return act


def drop() -> Action:
    def act(handler: _Handler) -> None:
        handler.close_connection = True

    return act


def slow(seconds: float) -> Action:
    def act(handler: _Handler) -> None:
        if not handler.loopback.stopping.wait(seconds):
            handler.answer(200, {})
        else:
            handler.close_connection = True

    return act


def trickle(n: int = 100, every: float = 1.0) -> Action:
    def act(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(n))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(n):
            if handler.loopback.stopping.wait(every):
                break
            handler.wfile.write(b"x")
            handler.wfile.flush()
        handler.close_connection = True

    return act


def trickle_headers(every: float = 1.0, n: int = 4000) -> Action:
    def act(handler: _Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        for _ in range(n):
            if handler.loopback.stopping.wait(every):
                break
            handler.wfile.write(b"a")
            handler.wfile.flush()
        handler.close_connection = True

    return act


def hang_after_headers() -> Action:
    def act(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.flush()
        handler.loopback.stopping.wait(120)
        handler.close_connection = True

    return act


def huge(n: int, chunked: bool = False) -> Action:
    block = b"y" * 65536

    def act(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(n))
        handler.end_headers()
        left = n
        try:
            while left > 0 and not handler.loopback.stopping.is_set():
                piece = block if left >= len(block) else block[:left]
                if chunked:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    handler.wfile.write(piece)
                left -= len(piece)
                handler.loopback.sent_bytes += len(piece)
            if chunked:
                handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:  # the client gave up: what a capped reader does
            handler.loopback.gave_up += 1
        handler.close_connection = True

    return act


def gzip_bomb(n: int) -> Action:
    packed = gzip.compress(b"\0" * n, compresslevel=9)

    def act(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        try:
            handler.wfile.write(packed)
        except OSError:
            handler.loopback.gave_up += 1
        handler.close_connection = True

    return act


def redirect(location: str, code: int = 307) -> Action:
    def act(handler: _Handler) -> None:
        handler.answer(code, {"Location": location})

    return act


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    @property
    def loopback(self) -> Loopback:
        return self.server.loopback

    def setup(self) -> None:
        super().setup()
        self.loopback._count_connection()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw = list(self.headers.items())
        seen = Seen(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in raw},
            raw_headers=raw,
            body=body,
        )
        self.loopback._next(seen)(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def answer(self, code: int, headers: dict[str, str], extra: dict[str, Any] | None = None):
        payload = {"server": self.loopback.name, "path": urlsplit(self.path).path, **(extra or {})}
        body = json.dumps(payload).encode()
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    loopback: Loopback

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeouts) is expected here


class Loopback:
    def __init__(
        self,
        name: str = "callee",
        script: list[Action] | None = None,
        default: Action | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.host = host
        self.sent_bytes = 0
        self.gave_up = 0
        self.script = list(script or [])
        self.default = default or ok()
        self.requests: list[Seen] = []
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.loopback = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def _next(self, seen: Seen) -> Action:
        with self._lock:
            self.requests.append(seen)
            return self.script.pop(0) if self.script else self.default

    def start(self) -> Loopback:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
