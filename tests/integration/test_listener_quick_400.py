"""Bytes that cannot be HTTP get their 400 at once on the maintenance port.

Before (red team, issue 11): garbage or a TLS ClientHello without a blank line
got no answer; the connection was closed at the 5 s request deadline, while
the docs said "not HTTP: 400". Now the request line is checked as it arrives:
the first byte that cannot belong to ``METHOD SP target SP HTTP/x.y`` is
answered 400 (and the connection closed), well before the deadline.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from tests.integration.test_listener_faults import listener_process

TLS_HELLO = bytes.fromhex("160301020001000001fc0303") + os.urandom(32)

NOT_HTTP = {
    "tls-client-hello": TLS_HELLO,
    "binary-garbage": b"\x00\xff\x13\x37" + os.urandom(64),
    "http-0.9": b"GET /heartbeat\r\n",
    "space-in-method": b"GE T /heartbeat HTTP/1.1\r\n",
    "bad-version": b"GET /heartbeat HTTQ/1.1\r\n",
    "control-in-target": b"GET /heart\x01beat HTTP/1.1",
    "method-too-long": b"A" * 40,
}


@pytest.mark.parametrize("payload", list(NOT_HTTP.values()), ids=list(NOT_HTTP))
def test_what_cannot_be_http_is_answered_400_at_once(payload: bytes, tmp_path: Path) -> None:
    with listener_process(tmp_path, request_timeout=5.0) as child:
        with socket.create_connection(("127.0.0.1", child.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(payload)  # and nothing more: no blank line, no close
            answer = sock.recv(4096)
            took = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        assert took < 2.0, f"answered after {took:.2f}s (the request deadline is 5 s)"
        assert child.probe()[0] == 200
    assert child.stderr.read_bytes() == b""


def test_a_request_line_still_arriving_is_waited_for(tmp_path: Path) -> None:
    """A real request sent in pieces is not refused while it is still plausible."""
    with listener_process(tmp_path) as child:
        with socket.create_connection(("127.0.0.1", child.port), timeout=10) as sock:
            for piece in (b"GE", b"T /heart", b"beat HT", b"TP/1.", b"1\r\nHost: x\r\n", b"\r\n"):
                sock.sendall(piece)
                time.sleep(0.05)
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
