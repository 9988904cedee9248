"""``/reloadRegistry`` answers within a short bound, whatever the control plane does.

Before (red team, issue 11): the endpoint waited for the whole control-plane
deadline (``SOAJS_REGISTRY_TIMEOUT`` + the rate limit, 6 s by default).
Under WSGI that held a request thread: gunicorn ``-w 1 --threads 4``, control
plane hanging, an unrelated request took 9.8 s, a storm got 720 answers of
5000 in 120 s and SIGTERM took 30 s. On the maintenance port the listener's
5 s request deadline ran out first: 1,254 of 1,691 storm calls got no HTTP
answer at all.

Now every ``/reloadRegistry`` waits at most ``SOAJS_RELOAD_ANSWER_WAIT``
(1 s) after the call it joins started (a rate-limited one also until its call
is due), then answers 202 "in progress"; the call goes on in the registry's
own worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.integration.faulty_plane import FaultyPlane, elapsed
from tests.support import free_port, wait_until


def _env(plane: FaultyPlane, port: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))},
        "SOAJS_REGISTRY_API": plane.address,
        "SOAJS_ENV": "dev",
        "SOAJS_REGISTRY_TIMEOUT": "5",
        "TEST_SERVICE_PORT": str(port),
        **extra,
    }


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_wsgi_reload_on_a_hanging_control_plane_holds_no_thread_for_its_deadline(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with FaultyPlane("ok") as plane, (tmp_path / "gunicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4",
             "--graceful-timeout", "30", "-b", f"127.0.0.1:{port}",
             "tests.integration.fault_apps:wsgi"],
            cwd=ROOT, env=_env(plane, port), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert wait_until(lambda: _ready(url + "/pid"), timeout=30)
            plane.mode = "silent"
            start = time.monotonic()
            single = httpx.get(url + "/reloadRegistry", timeout=30)
            single_took = elapsed(start)

            results: list[tuple[float, int | str]] = []

            def reload() -> None:
                t0 = time.monotonic()
                try:
                    code: int | str = httpx.get(url + "/reloadRegistry", timeout=30).status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                results.append((elapsed(t0), code))

            storm = [threading.Thread(target=reload) for _ in range(8)]
            for thread in storm:
                thread.start()
            time.sleep(0.3)
            t0 = time.monotonic()
            ping = httpx.get(url + "/pid", timeout=30)
            ping_took = elapsed(t0)
            for thread in storm:
                thread.join(30)
            calls = plane.paths["/getRegistry"] - 1

            lingering = [threading.Thread(target=reload) for _ in range(2)]
            for thread in lingering:
                thread.start()
            time.sleep(0.3)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(40)
            stop_took = elapsed(t0)
            for thread in lingering:
                thread.join(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            plane.mode = "ok"
    print(f"single {single_took:.2f}s, ping {ping_took:.2f}s, storm {sorted(results)}, "
          f"{calls} calls, SIGTERM {stop_took:.2f}s")  # fmt: skip
    assert single.status_code == 202, single.text
    assert single.json()["data"]["reload"] == "in progress"
    assert single_took < 3.0  # 1 s bound (the control plane's deadline is 5 s)
    assert ping.status_code == 200 and ping_took < 3.0
    assert all(code == 202 and took < 3.0 for took, code in results), results
    assert calls <= 2  # coalesced: one call in flight (plus one after its deadline)
    assert stop_took < 10.0


def test_every_maintenance_reload_gets_an_http_answer_on_a_hanging_control_plane(
    tmp_path: Path,
) -> None:
    port, maintenance = free_port(), free_port()
    with FaultyPlane("ok") as plane, (tmp_path / "uvicorn.log").open("wb") as log:
        env = _env(plane, port, TEST_MAINTENANCE_PORT=str(maintenance))
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.fault_apps:asgi",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert wait_until(lambda: _ready(f"http://127.0.0.1:{maintenance}/ready"), timeout=30)
            plane.mode = "silent"
            codes, took = asyncio.run(_storm(f"http://127.0.0.1:{maintenance}/reloadRegistry"))
            calls = plane.paths["/getRegistry"] - 1
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            plane.mode = "ok"
    print(f"maintenance storm: {dict(codes)} in {took:.1f}s, {calls} control-plane calls")
    assert set(codes) <= {202, 503}, codes  # an HTTP answer, every one
    assert calls <= took / 5 + 2


async def _storm(
    url: str, total: int = 600, concurrency: int = 64
) -> tuple[Counter[object], float]:
    codes: Counter[object] = Counter()
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:

        async def one() -> None:
            async with sem:
                try:
                    codes[(await client.get(url)).status_code] += 1
                except httpx.HTTPError as exc:
                    codes[type(exc).__name__] += 1

        start = time.monotonic()
        await asyncio.gather(*(one() for _ in range(total)))
        return codes, elapsed(start)
