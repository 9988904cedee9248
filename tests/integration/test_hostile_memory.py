"""Memory of a real uvicorn worker under 2,000 distinct hostile 64 KiB headers.

Finding 1 of issue 12: the context cache was bounded by entries only, so
1,300 distinct 64 KiB headers took a worker from 56 MiB to 1,775 MiB (here,
with the mix of shapes below, 44 -> 646 MiB). Now every entry is charged an
upper bound of what its context holds and the cache keeps at most 32 MiB by
default: the worker's RSS must stay within :data:`BOUND_MIB` of where it
started.

uvicorn runs in a child process (``tests/integration/hostile_app.py``) with
``--h11-max-incomplete-event-size 262144``: h11 refuses header blocks over
16 KiB by default, httptools (``uvicorn[standard]``) accepts 64 KiB ones, as
the gateway sends. gunicorn (sync worker) caps a header line at 8,190 bytes:
2,000 distinct 8 KB headers took a worker from 53 to 255 MiB before.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from benchmarks._hostile import ACCEPTED, hostile_header

from soajs.context.cache import DEFAULT_CACHE_BYTES
from tests.conftest import ROOT
from tests.support import free_port

#: RSS growth allowed: the cache's default budget plus allocator slack.
BOUND_MIB = DEFAULT_CACHE_BYTES // 2**20 + 32
HEADERS = 2000


class KeepAlive:
    """One HTTP/1.1 connection, requests written byte for byte."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.reader = self.sock.makefile("rb")

    def get(self, path: bytes, header: bytes | None = None) -> tuple[int, bytes]:
        extra = b"soajsinjectobj: " + header + b"\r\n" if header is not None else b""
        self.sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")
        status = int(self.reader.readline().split()[1])
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, self.reader.read(length)

    def rss_mib(self) -> float:
        return float(json.loads(self.get(b"/rss")[1])["rss_kib"]) / 1024

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def worker() -> Iterator[KeepAlive]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.integration.hostile_app:app",
         "--host", "127.0.0.1", "--port", str(port),
         "--h11-max-incomplete-event-size", "262144", "--log-level", "error"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    client = None
    try:
        client = KeepAlive(port)
        yield client
    finally:
        if client is not None:
            client.close()
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_rss_stays_flat_after_2000_distinct_hostile_64k_headers(worker: KeepAlive) -> None:
    templates = [hostile_header(shape, 65536, 10**7) for shape in ACCEPTED]
    for _ in range(20):
        assert worker.get(b"/probe")[0] == 200
    before = worker.rss_mib()
    for i in range(HEADERS):
        raw = templates[i % len(templates)].replace(b'"t10000000"', b'"t1%07d"' % i, 1)
        assert len(raw) == 65536
        # every 8th request reads the whole context (worst case for its memory)
        status, body = worker.get(b"/probe?read=" + (b"1" if i % 8 == 0 else b"0"), raw)
        assert status == 200
        assert json.loads(body)["tenant"] == f"t1{i:07d}"  # each one was a context
    after = worker.rss_mib()
    assert after - before <= BOUND_MIB, f"RSS {before:.0f} -> {after:.0f} MiB"


def get_once(port: int, path: bytes, header: bytes | None = None) -> tuple[int, bytes]:
    """One request on its own connection (gunicorn's sync worker closes each one)."""
    extra = b"soajsinjectobj: " + header + b"\r\n" if header is not None else b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.0\r\nHost: t\r\n" + extra + b"\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.slow
def test_gunicorn_worker_rss_stays_flat_after_2000_distinct_8k_headers() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "error", "tests.integration.hostile_app:wsgi_app"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                get_once(port, b"/rss")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        templates = [hostile_header(shape, 8000, 10**7) for shape in ACCEPTED]
        for _ in range(20):
            assert get_once(port, b"/probe")[0] == 200
        before = json.loads(get_once(port, b"/rss")[1])["rss_kib"] / 1024
        for i in range(HEADERS):
            raw = templates[i % len(templates)].replace(b'"t10000000"', b'"t1%07d"' % i, 1)
            status, body = get_once(port, b"/probe?read=" + (b"1" if i % 8 == 0 else b"0"), raw)
            assert status == 200
            assert json.loads(body)["tenant"] == f"t1{i:07d}"
        after = json.loads(get_once(port, b"/rss")[1])["rss_kib"] / 1024
        assert after - before <= BOUND_MIB, f"RSS {before:.0f} -> {after:.0f} MiB"
    finally:
        proc.kill()
        proc.wait(10)
