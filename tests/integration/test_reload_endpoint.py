"""``/reloadRegistry`` under storms, on real servers (issue 11, findings 3 and 4).

* uvicorn: a storm of reloads against a failing or hanging control plane
  costs one call per second and one WARNING, and never fills the event
  loop's default executor (the app's own ``to_thread`` and ``getaddrinfo``
  keep answering);
* gunicorn ``-w 2``: a reload asked of one worker reaches both (the
  broadcast), seen from the control plane's own call count and from each
  worker's answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from soajs import RegistryManager
from soajs.controlplane import ControlPlaneServer
from soajs.middleware import SOAJSMiddleware
from tests.conftest import ROOT
from tests.integration.faulty_plane import FaultyPlane, elapsed
from tests.integration.servers import uvicorn_server
from tests.support import wait_until, write_json

Make = Callable[..., RegistryManager]


async def ping(request: Request) -> JSONResponse:
    # what an app does that needs the loop's default executor
    one = await asyncio.to_thread(lambda: 1)
    await asyncio.get_running_loop().getaddrinfo("localhost", 80)
    return JSONResponse({"ping": one})


def service(manager: RegistryManager) -> Any:
    app = Starlette(routes=[Route("/ping", ping)])
    return SOAJSMiddleware(app, registry=manager, trusted_gateways="*")


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def test_a_reload_storm_on_a_hanging_control_plane_leaves_the_loop_free(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 3: 30 reloads on a hanging control plane used to fill the default executor."""
    caplog.set_level(logging.DEBUG, logger="soajs")
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, timeout=1, auto_reload=False)
        plane.mode = "silent"
        with uvicorn_server(service(manager)) as served, ThreadPoolExecutor(64) as pool:
            start = time.monotonic()
            storm = [pool.submit(_get, served.url + "/reloadRegistry") for _ in range(64)]
            time.sleep(0.3)  # the storm is in: every worker of the pool waits on a reload
            t0 = time.monotonic()
            assert _get(served.url + "/ping").json() == {"ping": 1}
            assert elapsed(t0) < 2.0, "the app's own executor work waited on the reloads"
            answers = [f.result(timeout=30) for f in storm]
            took = elapsed(start)
        calls = plane.paths["/getRegistry"] - 1
        assert plane.max_active == 1  # never two calls in flight
    # each waited within its deadline, then heard "in progress" or the failure
    assert {a.status_code for a in answers} <= {202, 503}
    assert 1 <= calls <= took + 2, f"{calls} calls in {took:.1f}s"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 1, [r.getMessage() for r in warnings]


def test_a_reload_storm_on_a_failing_control_plane_over_http(
    make_manager: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 3: 2000 reloads in 2 s on a down control plane made 2000 calls and 2000 WARNINGs.

    Each wave of requests waits for the next call, at most one a second.
    """
    caplog.set_level(logging.DEBUG, logger="soajs")
    with FaultyPlane() as plane:
        manager = make_manager("hello", registry_api=plane.address, auto_reload=False)
        plane.mode = "reset"
        limits = httpx.Limits(max_connections=64)
        with (
            uvicorn_server(service(manager)) as served,
            httpx.Client(timeout=30, limits=limits) as client,
        ):
            url = served.url + "/reloadRegistry"
            start = time.monotonic()
            with ThreadPoolExecutor(64) as pool:  # 3 waves of 64 concurrent requests
                answers = list(pool.map(lambda _: client.get(url), range(192)))
            took = elapsed(start)
        calls = plane.paths["/getRegistry"] - 1
    assert {a.status_code for a in answers} == {503}
    body = answers[0].json()
    assert body["result"] is False and body["errors"]["details"][0]["message"]
    assert calls <= took + 2, f"{calls} calls for 192 requests in {took:.1f}s"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings


def test_a_reload_answers_with_the_outcome_and_no_registry_data(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
) -> None:
    manager = make_manager("hello", registry_api=control_plane.address, auto_reload=False)
    registry_data["custom"]["greeting"]["value"]["text"] = "after the endpoint"
    write_json(registry_file, registry_data)
    with uvicorn_server(service(manager)) as served:
        answer = _get(served.url + "/reloadRegistry")
    assert answer.status_code == 200
    body = answer.json()
    assert body["result"] is True
    assert body["data"]["reload"] == "done"
    assert set(body["data"]) == {"reload", "state", "finishedAt", "age", "duration"}
    assert manager.get_custom("greeting").value["text"] == "after the endpoint"


# -- the broadcast: every worker of the host ---------------------------------------------


def test_a_reload_reaches_another_manager_of_the_same_service(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    make_manager: Make,
    tmp_path: Path,
) -> None:
    """Two managers of one service (two workers, here in one process) share a stamp file."""
    registry_data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 3_600_000
    write_json(registry_file, registry_data)
    kw = {"registry_api": control_plane.address, "runtime_dir": tmp_path / "run"}
    first, second = make_manager("hello", **kw), make_manager("hello", **kw)
    assert control_plane.store.calls["/getRegistry"] == 2
    registry_data["custom"]["greeting"]["value"]["text"] = "broadcast"
    write_json(registry_file, registry_data)
    assert first.request_reload().future.result(timeout=5).ok
    assert wait_until(lambda: second.get_custom("greeting").value["text"] == "broadcast", 5)
    time.sleep(1.5)  # and no echo: the second does not announce back
    assert control_plane.store.calls["/getRegistry"] == 4
    # the stamp, and this process's mark (soajs.registry.siblings): nothing else
    names = {path.name for path in (tmp_path / "run").iterdir()}
    assert names == {"dev-hello.reload", f"dev-hello.{os.getpid()}.loaded"}


def test_the_broadcast_degrades_with_one_warning_on_a_read_only_directory(
    control_plane: ControlPlaneServer, make_manager: Make, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING, logger="soajs")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the directory should be")
    manager = make_manager("hello", registry_api=control_plane.address, runtime_dir=blocked)
    for _ in range(3):
        assert manager.request_reload().future.result(timeout=5).ok
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "reload broadcast off" in warnings[0], warnings


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn needs fork")
def test_gunicorn_two_workers_both_reload(
    control_plane: ControlPlaneServer,
    registry_file: Path,
    registry_data: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Finding 4: /reloadRegistry reached one process; the other stayed stale for an hour."""
    registry_data["serviceConfig"]["awareness"]["autoRelaodRegistry"] = 3_600_000
    write_json(registry_file, registry_data)
    env = dict(
        os.environ,
        SOAJS_ENV="dev",
        SOAJS_REGISTRY_API=control_plane.address,
        SOAJS_RUNTIME_DIR=str(tmp_path / "run"),
    )
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:0",
               "--graceful-timeout", "5", "tests.integration.reload_app:application"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = _gunicorn_url(proc)
        assert wait_until(lambda: control_plane.store.calls["/getRegistry"] == 2, timeout=20)
        assert _states(url) == {"hello from the registry"}

        registry_data["custom"]["greeting"]["value"]["text"] = "reloaded everywhere"
        write_json(registry_file, registry_data)
        assert _get(url + "/reloadRegistry").json()["result"] is True
        # the worker that got it reloaded; the other saw the stamp within a second or so
        assert wait_until(lambda: control_plane.store.calls["/getRegistry"] == 4, timeout=10)
        time.sleep(1.5)
        assert control_plane.store.calls["/getRegistry"] == 4  # one each, no echo
        assert _states(url) == {"reloaded everywhere"}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            assert proc.stderr is not None
            proc.stderr.close()


def _gunicorn_url(proc: subprocess.Popen[str]) -> str:
    """Read gunicorn's log until it says where it listens and both workers booted."""
    url, booted, log = None, 0, []
    for line in _lines(proc, timeout=30):
        log.append(line)
        if "Listening at: " in line:
            url = line.split("Listening at: ")[1].split()[0]
        booted += "Booting worker" in line
        if url is not None and booted == 2:
            return url
    raise AssertionError("".join(log))


def _lines(proc: subprocess.Popen[str], timeout: float) -> Iterator[str]:
    """The child's stderr lines as they come, for at most ``timeout`` seconds.

    A thread reads them (a select() on the pipe would miss lines already in the
    reader's buffer); it ends when the child closes its stderr.
    """
    assert proc.stderr is not None
    stream = proc.stderr
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        try:
            for line in stream:
                lines.put(line)
        except (ValueError, OSError):  # the test closed the pipe: the child is gone
            pass
        lines.put(None)

    threading.Thread(target=pump, name="test-stderr", daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return
        if line is None:
            return
        yield line


def _states(url: str) -> set[str]:
    """Ask until both workers answered; the greetings they hold."""
    seen: dict[int, str] = {}
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        deadline = time.monotonic() + 15
        while len(seen) < 2 and time.monotonic() < deadline:
            for answer in pool.map(lambda _: client.get(url + "/state").json(), range(16)):
                seen[answer["pid"]] = answer["greeting"]
    assert len(seen) == 2, seen
    return set(seen.values())


@pytest.mark.slow
def test_sigterm_with_a_reload_in_flight_on_a_hanging_control_plane() -> None:
    """Finding 1: uvicorn was still running 40 s after SIGTERM with one /reloadRegistry in
    flight. The endpoint waits at most one exchange (+ the rate limit), then the server ends."""
    with FaultyPlane() as plane:
        env = dict(os.environ, SOAJS_ENV="dev", SOAJS_REGISTRY_API=plane.address,
                   SOAJS_REGISTRY_TIMEOUT="2")  # fmt: skip
        command = [sys.executable, "-m", "uvicorn", "--port", "0", "--log-level", "info",
                   "tests.integration.reload_asgi_app:app"]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            url = _wait_for_line(proc, "Uvicorn running on ").split()[0]
            assert _get(url + "/ping").json() == {"ping": True}
            plane.mode = "silent"
            with ThreadPoolExecutor(1) as pool:
                reload = pool.submit(_get, url + "/reloadRegistry")
                assert wait_until(lambda: plane.paths["/getRegistry"] == 2, timeout=5)
                start = time.monotonic()
                proc.terminate()
                proc.wait(20)
                took = elapsed(start)
                answer = reload.result(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            assert proc.stderr is not None
            proc.stderr.close()
    # 2 s exchange + 1 s rate limit, then the answer, then the shutdown
    assert took < 9.0, f"uvicorn took {took:.1f}s to stop after SIGTERM"
    assert answer.status_code in (202, 503)


def _wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """What follows ``marker`` in the child's stderr, once it says it."""
    log = []
    for line in _lines(proc, timeout):
        log.append(line)
        if marker in line:
            return line.split(marker, 1)[1]
    raise AssertionError("".join(log))
