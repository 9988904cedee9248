"""A control plane whose compressed answer is corrupt, on a real HTTP server.

Before (red team, issue 11): ``Content-Encoding: gzip`` over a plain body let
``zlib.error`` escape the capped reader: 111 ERROR lines with tracebacks
("unexpected error in the registry worker") over a 60 s outage, and with
``start_degraded=True`` the constructor raised ``zlib.error`` instead of a
``RegistryError``. Now every decoding failure is a ``ControlPlaneError``,
counted in the outage (one WARNING); raw deflate (no zlib header), which some
servers send as ``deflate``, is accepted as httpx accepts it.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import zlib

import pytest

from soajs import RegistryManager
from soajs.errors import ControlPlaneError, RegistryError
from soajs.registry.client import RegistryClient
from tests.integration.faulty_plane import FaultyPlane
from tests.support import wait_until


def _encoded(mode: str, body: bytes) -> tuple[str, bytes]:
    if mode == "badgzip":  # says gzip, sends the plain body
        return "gzip", body
    if mode == "baddeflate":
        return "deflate", b"\x00\x01 not deflate at all " + body
    if mode == "truncgzip":
        return "gzip", gzip.compress(body)[: len(body) // 3]
    if mode == "gzip":
        return "gzip", gzip.compress(body)
    if mode == "zlibdeflate":
        return "deflate", zlib.compress(body)
    if mode == "rawdeflate":
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return "deflate", packer.compress(body) + packer.flush()
    raise AssertionError(mode)


class EncodingPlane(FaultyPlane):
    """Answers the registry with a ``Content-Encoding`` (right or wrong) per ``mode``."""

    def _answer(self, conn: socket.socket, mode: str) -> bool:
        if mode == "ok" or mode not in ENCODED:
            return super()._answer(conn, mode)
        body = json.dumps({"result": True, "ts": 1, "data": self.registry}).encode()
        encoding, sent = _encoded(mode, body)
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Encoding: {encoding}\r\nContent-Length: {len(sent)}\r\n\r\n"
        )
        conn.sendall(head.encode() + sent)
        return True


ENCODED = ("badgzip", "baddeflate", "truncgzip", "gzip", "zlibdeflate", "rawdeflate")


@pytest.mark.parametrize("mode", ["badgzip", "baddeflate", "truncgzip"])
def test_a_corrupt_compressed_answer_is_a_control_plane_error(mode: str) -> None:
    with (
        EncodingPlane(mode) as plane,
        RegistryClient(f"http://{plane.address}") as client,
        pytest.raises(ControlPlaneError) as caught,
    ):
        client.get_registry("dev", "hello")
    assert caught.value.route == "/getRegistry"
    print(caught.value)


@pytest.mark.parametrize("mode", ["gzip", "zlibdeflate", "rawdeflate"])
def test_a_well_compressed_answer_is_read(mode: str) -> None:
    with EncodingPlane(mode) as plane, RegistryClient(f"http://{plane.address}") as client:
        registry = client.get_registry("dev", "hello")
    assert registry.time_loaded == plane.registry["timeLoaded"]
    assert set(registry.services) == set(plane.registry["services"])


def test_a_degraded_start_on_a_corrupt_answer_raises_no_zlib_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOAJS_ENV", "dev")
    with EncodingPlane("badgzip") as plane:
        manager = RegistryManager(
            "hello", registry_api=plane.address, start_degraded=True, broadcast=False
        )
        try:
            assert not manager.is_ready
            assert isinstance(manager.last_error, ControlPlaneError)
        finally:
            manager.stop()
        with pytest.raises(RegistryError):  # fail-fast: a RegistryError, not zlib.error
            RegistryManager("hello", registry_api=plane.address, broadcast=False)


def test_an_outage_of_corrupt_answers_is_one_warning_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SOAJS_ENV", "dev")
    caplog.set_level(logging.DEBUG, logger="soajs")
    with EncodingPlane("ok") as plane:
        manager = RegistryManager("hello", registry_api=plane.address, max_backoff=0.1)
        try:
            plane.mode = "badgzip"
            manager._poller.next_poll = 0.0  # poll now, then back off (0.1 s at most)
            manager._poller.wake.set()
            assert wait_until(lambda: manager._poller.failures >= 10, timeout=15)
            assert manager.is_ready  # the last good registry stays
            plane.mode = "ok"
            assert wait_until(lambda: manager._poller.failures == 0, timeout=10)
        finally:
            manager.stop()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 2, [r.getMessage() for r in loud]  # the outage, and its end
    assert not any(r.exc_info for r in caplog.records)
    assert "gzip" in loud[0].getMessage()
