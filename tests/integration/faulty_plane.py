"""A control plane that misbehaves on purpose: a real HTTP server on a loopback socket.

Modes (``plane.mode`` may change while it runs):

``ok``         answers the sample registry in the envelope
``trickle``    sends the status line and headers, then the body one byte per
               ``trickle_interval`` seconds, for ever
``headers``    sends the headers, then nothing (hangs after headers)
``silent``     accepts and reads the request, never answers
``huge``       answers ``huge_size`` bytes of a JSON string, as fast as it can
               (with ``Content-Length`` when ``announce`` is true, else until close)
``reset``      reads the request and resets the connection (a flapping peer's bad half)

Every request line read is counted in :attr:`requests` (per path in
:attr:`paths`; :attr:`max_active` is the most answered at once),
server-side, so a test can say how many calls really reached the control
plane. Stopping closes everything and joins every thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from typing import Any

from tests.conftest import SAMPLE_REGISTRY


class FaultyPlane:
    def __init__(self, mode: str = "ok", *, registry: dict[str, Any] | None = None) -> None:
        self.mode = mode
        self.trickle_interval = 1.0
        self.huge_size = 100 * 1024 * 1024
        self.announce = True
        self.delay = 0.0  # seconds before an "ok" answer
        self.registry = (
            registry if registry is not None else json.loads(SAMPLE_REGISTRY.read_text())
        )
        self.requests = 0
        self.paths: Counter[str] = Counter()
        self.active = 0  # requests being answered now
        self.max_active = 0  # the most at once
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, name="faulty-plane", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FaultyPlane:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        assert not any(t.is_alive() for t in self._threads), "faulty plane threads left"

    # -- serving --------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(0.2)
                while not self._stop.is_set():
                    path = self._read_request(conn)
                    if path is None:
                        return
                    with self._count_lock:
                        self.requests += 1
                        self.paths[path] += 1
                        self.active += 1
                        self.max_active = max(self.max_active, self.active)
                    try:
                        keep = self._answer(conn, self.mode)
                    finally:
                        with self._count_lock:
                            self.active -= 1
                    if not keep:
                        return
        except OSError:
            pass
        finally:
            if conn in self._conns:
                self._conns.remove(conn)

    def _read_request(self, conn: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length and not self._stop.is_set():
            try:
                rest += conn.recv(65536)
            except TimeoutError:
                continue
        target = head.split(b" ")[1].decode()
        return target.split("?", 1)[0]

    def _hold(self, conn: socket.socket) -> None:
        """Say nothing until the client hangs up (or the plane stops)."""
        conn.settimeout(0.1)
        while not self._stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue

    def _wait(self, seconds: float) -> bool:
        return not self._stop.wait(seconds)

    def _answer(self, conn: socket.socket, mode: str) -> bool:
        """Answer one request; True to keep the connection for another."""
        if mode == "ok":
            if self.delay and not self._wait(self.delay):
                return False
            body = json.dumps({"result": True, "ts": 1, "data": self.registry}).encode()
            conn.sendall(_head(200, len(body)) + body)
            return True
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if mode == "silent":
            self._hold(conn)
            return False
        if mode == "headers":
            conn.sendall(_head(200, 1000))
            self._hold(conn)
            return False
        if mode == "trickle":
            conn.sendall(_head(200, 10_000_000) + b'{"result": true, "data": "')
            while self._wait(self.trickle_interval):
                conn.sendall(b"x")
            return False
        if mode == "huge":
            size = self.huge_size
            prefix, suffix = b'{"result": true, "data": "', b'"}'
            length = len(prefix) + size + len(suffix)
            if self.announce:
                conn.sendall(_head(200, length) + prefix)
            else:
                conn.sendall(_head(200, None) + prefix)
            block = b"x" * 65536
            sent = 0
            while sent < size and not self._stop.is_set():
                piece = block[: size - sent]
                try:
                    conn.sendall(piece)
                except OSError:
                    return False
                sent += len(piece)
            conn.sendall(suffix)
            return False
        raise AssertionError(f"unknown mode {mode!r}")


def _head(status: int, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} OK", "Content-Type: application/json"]
    if length is None:
        lines.append("Connection: close")
    else:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def elapsed(start: float) -> float:
    return time.monotonic() - start
