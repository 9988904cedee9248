"""The async connector's pooled client lives and dies with its event loop (issue 12, finding 4).

Flask and Django async views under a WSGI server run each request in a new
event loop (asgiref ``async_to_sync``); one ``AsyncClient`` per loop was
kept and never closed: sockets per worker went from ~11 to ~370 over 300
calls. Sockets are counted from ``/proc/PID/fd`` (links to ``socket:``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync

from soajs.connector import AsyncServiceConnector, transport
from tests.connector.conftest import awareness, make_context
from tests.connector.loopback import Loopback
from tests.support import free_port, wait_until

Servers = Callable[..., Loopback]
ROOT = Path(__file__).resolve().parents[2]
#: Sockets a process may gain over the run (a listener, a keep-alive or two in flight).
SOCKET_SLACK = 6


def sockets(pid: int) -> int:
    count = 0
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:  # closed while we looked
            pass
    return count


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def one_call_in_a_new_loop(runner: str, context: object) -> None:
    async def main() -> None:  # no aclose(): the loop's shutdown must do it
        answer = await AsyncServiceConnector(context).get("b", "/", version="1")  # type: ignore[arg-type]
        assert answer.status_code == 200

    if runner == "asyncio.run":
        asyncio.run(main())
    else:  # what Flask and Django do with an async view under WSGI
        async_to_sync(main)()


@pytest.mark.parametrize("runner", ["asyncio.run", "async_to_sync"])
def test_a_loop_per_call_leaves_no_client_and_no_socket(servers: Servers, runner: str) -> None:
    callee = servers("b")
    context = make_context(awareness(None, ("b", "1", callee.address, "1")))
    me = os.getpid()
    one_call_in_a_new_loop(runner, context)
    before = sockets(me)
    for _ in range(100):
        one_call_in_a_new_loop(runner, context)
    assert transport.async_clients() == 0
    # the callee (in this process too) closes its side once ours is closed
    assert wait_until(lambda: sockets(me) <= before + SOCKET_SLACK, timeout=5), sockets(me) - before
    assert callee.connections == 101  # one per loop: each loop's pool is its own


def test_explicit_aclose_still_works_and_a_new_client_follows() -> None:
    async def main() -> tuple[bool, bool]:
        first = transport.async_client()
        await transport.aclose()
        second = transport.async_client()
        return first.is_closed, second is not first

    assert asyncio.run(main()) == (True, True)
    assert transport.async_clients() == 0


def test_a_loop_closed_by_hand_is_dropped_by_the_next_one(servers: Servers) -> None:
    callee = servers("b")
    context = make_context(awareness(None, ("b", "1", callee.address, "1")))

    async def main() -> None:
        await AsyncServiceConnector(context).get("b", "/", version="1")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())
    client = transport._async[id(loop)].client
    loop.run_until_complete(client.aclose())  # what the app should have done
    loop.close()  # without shutdown_asyncgens(): the closer never ran
    assert transport.async_clients() == 1
    one_call_in_a_new_loop("asyncio.run", context)
    assert transport.async_clients() == 0
    del loop, client
    gc.collect()


@pytest.fixture(params=["flask_async", "django_async"])
def gunicorn_app(
    servers: Servers, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Loopback]]:
    """gunicorn, one sync worker, serving an app whose async view makes a connector call."""
    callee = servers("b")
    port = free_port()
    env = {**os.environ, "SOAJS_TEST_CALLEE": callee.address, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", f"tests.connector.apps.{request.param}:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/call", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(up, timeout=20, step=0.1), "gunicorn did not come up"
        yield base, callee
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        assert proc.stderr is not None
        errors = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        assert "Traceback" not in errors, errors[-2000:]


@pytest.mark.slow
def test_gunicorn_async_view_sockets_stay_flat(gunicorn_app: tuple[str, Loopback]) -> None:
    """Flask and Django async views under gunicorn: 300 calls, each in a new event loop."""
    base, callee = gunicorn_app
    with httpx.Client(base_url=base, timeout=10) as client:
        worker = client.get("/call").json()["pid"]
        for _ in range(20):  # warm: imports, first allocations
            client.get("/call")
        start_sockets, start_rss = sockets(worker), rss_mib(worker)
        for _ in range(300):
            assert client.get("/call").json()["status"] == 200
        end_sockets, end_rss = sockets(worker), rss_mib(worker)
    growth = end_sockets - start_sockets
    print(f"worker {worker}: sockets {start_sockets} -> {end_sockets}, "
          f"RSS {start_rss:.0f} -> {end_rss:.0f} MiB over 300 calls")  # fmt: skip
    assert growth <= SOCKET_SLACK, f"{start_sockets} -> {end_sockets} sockets"
    assert end_rss - start_rss < 20, f"RSS {start_rss:.0f} -> {end_rss:.0f} MiB"
    assert callee.connections >= 300  # each request's loop had its own connection, now closed
