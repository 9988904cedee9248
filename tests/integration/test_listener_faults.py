"""The maintenance listener under hostile clients, measured from outside its process.

The listener runs alone in a child process (tests/integration/listener_process.py);
its threads (/proc/PID/task), open fds (/proc/PID/fd), stderr and log lines are
read while a slowloris, a reset storm or a burst of connects hits it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.support import free_port

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")

PROBE = b"GET /heartbeat HTTP/1.1\r\nHost: x\r\n\r\n"


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    stderr: Path

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def probe(self, timeout: float = 2.0) -> tuple[int, float]:
        started = time.monotonic()
        status = httpx.get(f"http://127.0.0.1:{self.port}/heartbeat", timeout=timeout).status_code
        return status, time.monotonic() - started


@contextmanager
def listener_process(tmp_path: Path, request_timeout: float = 5.0) -> Iterator[Child]:
    port = free_port()
    log, stderr = tmp_path / "listener.log", tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.listener_process", str(port), str(log),
             str(request_timeout)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"READY", stderr.read_text()
        yield Child(proc, port, log, stderr)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_a_slowloris_holds_no_threads_and_a_bounded_number_of_fds(tmp_path: Path) -> None:
    """200 clients sending one byte a second: before, 235 threads and 242 fds for 45 s."""
    with listener_process(tmp_path, request_timeout=2.0) as child:
        threads0, fds0 = child.threads(), child.fds()
        clients = [socket.create_connection(("127.0.0.1", child.port)) for _ in range(200)]
        max_threads = max_fds = 0
        probes: list[tuple[int, float]] = []
        try:
            for second in range(4):  # one byte a second each, never a whole request
                for sock in clients:
                    with contextlib.suppress(OSError):  # the listener gave up on it: the point
                        sock.send(b"GET /heartbeat HTTP/1.1\r\n"[second : second + 1])
                probes.append(child.probe())  # a real probe gets through meanwhile
                max_threads = max(max_threads, child.threads())
                max_fds = max(max_fds, child.fds())
                time.sleep(1)
            # the whole-request deadline (2 s here) closed every slow client
            closed = sum(_closed_by_peer(sock, 2.0) for sock in clients)
        finally:
            for sock in clients:
                sock.close()
        print(f"slowloris: threads {threads0}->{max_threads}, fds {fds0}->{max_fds}, "
              f"probes {probes}, closed {closed}/200")  # fmt: skip
        assert max_threads <= threads0 + 1  # one thread whatever the clients
        # at most max_connections client sockets, plus a few closed by their deadline whose
        # fd the loop has not released yet (150 seen once under load); 200 unbounded
        # clients would hold 200 + fds0
        assert max_fds <= fds0 + 128 + 24
        assert all(status == 200 and took < 1.0 for status, took in probes), probes
        assert closed == 200
        assert child.stderr.read_bytes() == b""


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except OSError:
        return False


def test_a_thousand_client_resets_print_nothing_and_log_little(tmp_path: Path) -> None:
    """Before: 975 socketserver tracebacks on stderr for 1000 resets."""
    with listener_process(tmp_path) as child:
        linger = struct.pack("ii", 1, 0)  # close() sends RST
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", child.port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            if i % 3 == 1:
                sock.send(b"GET /heart")  # half a request
            elif i % 3 == 2:
                sock.send(PROBE)  # a whole one, the answer never read
            sock.close()
        assert child.probe()[0] == 200
        threads = child.threads()
    stderr = child.stderr.read_bytes()
    lines = child.log.read_text().splitlines()
    print(f"resets: stderr {len(stderr)} bytes, {len(lines)} log lines, {threads} threads")
    assert stderr == b""
    assert len(lines) <= 5, lines  # started, stopped, and at most a summary of the counts
    assert "Traceback" not in child.log.read_text()


def test_sixty_connects_at_once_are_all_answered_quickly(tmp_path: Path) -> None:
    """Before (backlog 5): 60 back-to-back connects took 9.2 s."""
    with listener_process(tmp_path) as child:
        started = time.monotonic()
        selector = selectors.DefaultSelector()
        answers: dict[socket.socket, bytes] = {}
        for _ in range(60):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", child.port))
            selector.register(sock, selectors.EVENT_WRITE)
            answers[sock] = b""
        pending = set(answers)
        deadline = started + 10
        while pending and time.monotonic() < deadline:
            for key, events in selector.select(timeout=0.5):
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                if events & selectors.EVENT_WRITE:
                    conn.send(PROBE)
                    selector.modify(conn, selectors.EVENT_READ)
                    continue
                chunk = conn.recv(4096)
                answers[conn] += chunk
                if not chunk:
                    selector.unregister(conn)
                    pending.discard(conn)
        took = time.monotonic() - started
        for sock in answers:
            sock.close()
        selector.close()
        ok = sum(a.startswith(b"HTTP/1.1 200") for a in answers.values())
        print(f"60 connects at once: {ok} answered 200 in {took:.2f}s")
        assert ok == 60
        assert took < 3.0  # generous: a SYN retransmit alone costs 1 s


def test_a_request_head_too_large_is_refused_and_garbage_is_400(tmp_path: Path) -> None:
    with listener_process(tmp_path) as child:
        for request, status in (
            (b"GET /heartbeat HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # TLS hello
            # any other method or path answers the heartbeat, as Node's maintenance app
            (b"POST /heartbeat HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"200"),
            (b"GET /other HTTP/1.1\r\n\r\n", b"200"),
        ):
            with socket.create_connection(("127.0.0.1", child.port), timeout=5) as sock:
                sock.sendall(request)
                answer = sock.recv(4096)
            assert answer.split(b" ")[1] == status, answer
        assert child.probe()[0] == 200
    assert child.stderr.read_bytes() == b""


def test_stop_returns_within_its_bound_with_slow_clients_connected() -> None:
    from soajs.middleware import HealthEndpoints, MaintenanceListener

    listener = MaintenanceListener(HealthEndpoints(), free_port(), host="127.0.0.1")
    assert listener.start()
    assert listener.port is not None
    clients = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(50)]
    try:
        for sock in clients:
            sock.send(b"G")
        started = time.monotonic()
        listener.stop(timeout=5)
        assert time.monotonic() - started < 3.0
        assert not [t for t in threading.enumerate() if t.name.endswith(f"-{listener.port}")]
        closed = [_closed_by_peer(sock, 2.0) for sock in clients]
        assert all(closed), f"{closed.count(False)} of 50 left open"
    finally:
        for sock in clients:
            sock.close()
