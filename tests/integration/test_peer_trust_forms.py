"""A rewritten peer is detected whatever the forwarding headers look like.

Red-team findings against issue 12's first fix, which recognised a rewrite
only when the peer equalled one of the first 64 addresses of the forwarding
headers, with a port parsed by ``str.isdigit``:

* ``X-Forwarded-For`` with more than 64 entries (uvicorn uses the rightmost
  one), or split across two headers, and
* ports uvicorn's ``int()`` accepts but ``isdigit`` does not
  (``10.0.0.5:+80``, ``:-1``, ``:8_0``, ``[::ffff:10.0.0.5]:+7``)

had a forged header believed under uvicorn's defaults. Detection no longer
mirrors a server's parser: any entry naming the peer's host, in any form and
at any position, or a port no TCP peer has, means "rewritten".

Real servers in child processes with their own defaults (nothing but host and
port given): uvicorn, and gunicorn with uvicorn's worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, ROOT
from tests.integration.servers import raw_get
from tests.support import free_port

RAW = (FIXTURES / "soajsinjectobj_raw.txt").read_bytes().strip()
GENUINE = "5f0a1b2c3d4e5f6a7b8c9d01"
FORGED = b'{"tenant":{"id":"FORGED","code":"FORGED"}}'
# the gateways: a network the attacker names, and the local gateway that is genuine
TRUSTED = "10.0.0.0/8,127.0.0.1"

SERVERS = {
    "uvicorn": lambda port: [sys.executable, "-m", "uvicorn", "tests.integration.trust_app:app",
                             "--port", str(port), "--log-level", "warning"],
    "gunicorn+UvicornWorker": lambda port: [
        sys.executable, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "1",
        "-b", f"127.0.0.1:{port}", "tests.integration.trust_app:app"],
}  # fmt: skip


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if raw_get(port, "/who", [], timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOAJS_", "FORWARDED_ALLOW_IPS", "GUNICORN_CMD_ARGS"))}  # fmt: skip
    env["SOAJS_TRUSTED_GATEWAYS"] = TRUSTED
    proc = subprocess.Popen(
        SERVERS[request.param](port), cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def who(port: int, header: bytes, *forwarding: tuple[bytes, bytes]) -> dict[str, Any]:
    response = raw_get(port, "/who", [(b"soajsinjectobj", header), *forwarding])
    assert response.status == 200, response.raw[:300]
    answer: dict[str, Any] = json.loads(response.body)
    return answer


def assert_refused(port: int, *forwarding: tuple[bytes, bytes]) -> dict[str, Any]:
    answer = who(port, FORGED, *forwarding)
    assert answer["tenant"] is None, (forwarding, answer)
    assert answer["header_seen"] is False, (forwarding, answer)
    return answer


def xff(value: bytes) -> tuple[bytes, bytes]:
    return (b"X-Forwarded-For", value)


def test_genuine_gateway_without_forwarding_headers_keeps_its_context(server: int) -> None:
    assert who(server, RAW)["tenant"] == GENUINE


@pytest.mark.parametrize("junk", [0, 63, 64, 65, 200, 3000])
def test_more_than_64_entries(server: int, junk: int) -> None:
    answer = assert_refused(server, xff(b", ".join([b"1.2.3.4"] * junk + [b"10.0.0.5"])))
    assert answer["client"] == ["10.0.0.5", 0]  # the server did rewrite the peer


def test_entries_split_across_headers(server: int) -> None:
    many = b", ".join([b"1.2.3.4"] * 100)
    answer = assert_refused(server, xff(many), xff(b"10.0.0.5"))
    assert answer["client"] == ["10.0.0.5", 0]
    assert_refused(server, xff(b"10.0.0.5"), xff(many), xff(b"10.0.0.5:+9"))


@pytest.mark.parametrize(
    "token",
    [b"10.0.0.5:80", b"10.0.0.5:+80", b"10.0.0.5:-1", b"10.0.0.5:8_0", b"10.0.0.5: 80",
     b"[::ffff:10.0.0.5]:+7", b"10.0.0.5:00080", b"[::FFFF:10.0.0.5]", b"[::ffff:a00:5]:+0",
     b"10.0.0.5:0", b"10.0.0.5:99999999", b"[10.0.0.5]:+1"],
)  # fmt: skip
def test_odd_ports_and_forms(server: int, token: bytes) -> None:
    assert_refused(server, xff(token))


PORTS = st.one_of(
    st.integers(-(10**6), 10**9).map(str),
    st.sampled_from(["+80", "-1", "8_0", " 80", "80 ", "0", "00080", "+0", "1_2_3", "", "x"]),
)
FORMS = st.tuples(
    st.sampled_from(["10.0.0.5", "[10.0.0.5]", "[::ffff:10.0.0.5]", "::ffff:10.0.0.5",
                     "[::FFFF:0a00:0005]", "10.0.0.77"]),
    st.none() | PORTS,
).map(lambda t: t[0] if t[1] is None else f"{t[0]}:{t[1]}")  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    junk=st.integers(0, 400),
    target=FORMS,
    split=st.integers(0, 3),
)
def test_any_mix_is_refused(server: int, junk: int, target: str, split: int) -> None:
    entries = [f"198.51.100.{i % 250}" for i in range(junk)] + [target]
    cut = len(entries) * split // 4
    values = [", ".join(part) for part in (entries[:cut], entries[cut:]) if part]
    assert_refused(server, *(xff(v.encode()) for v in values))
