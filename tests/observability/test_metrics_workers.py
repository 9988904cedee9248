"""``/metrics`` of a real ``gunicorn -w 2`` and ``uvicorn --workers 2``: the
maintenance port sums both workers.

Requests with a valid header hit both workers (each answers its pid); the
worker that holds the maintenance port answers ``/metrics`` with its own
counts plus its sibling's published file, read with prometheus-client's parser.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from soajs.controlplane import ControlPlaneServer
from soajs.testing.headers import make_inject_header
from tests.conftest import ROOT
from tests.support import free_port, wait_until

REQUESTS = 40


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


GUNICORN = ["-m", "gunicorn", "-w", "2", "--graceful-timeout", "5",
            "tests.observability.metrics_app:application", "-b"]  # fmt: skip
UVICORN = ["-m", "uvicorn", "--workers", "2", "--log-level", "warning",
           "tests.observability.metrics_app:asgi", "--host", "127.0.0.1", "--port"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn needs fork")
@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_two_workers_report_summed_counts(
    control_plane: ControlPlaneServer, tmp_path: Path, server: str
) -> None:
    port, maintenance = free_port(), free_port()
    env = dict(
        os.environ,
        SOAJS_ENV="dev",
        SOAJS_REGISTRY_API=control_plane.address,
        SOAJS_RUNTIME_DIR=str(tmp_path / "run"),
        SOAJS_METRICS_PUBLISH_INTERVAL="0.5",
        TEST_SERVICE_PORT=str(port),
        TEST_MAINTENANCE_PORT=str(maintenance),
    )
    if server == "gunicorn":
        command = [sys.executable, *GUNICORN, f"127.0.0.1:{port}"]
    else:
        command = [sys.executable, *UVICORN, str(port)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    metrics_url = f"http://127.0.0.1:{maintenance}/metrics"
    header = make_inject_header()
    try:
        assert wait_until(lambda: _up(url), timeout=30), "gunicorn did not answer"
        pids: set[str] = set()
        sent = 0
        deadline = time.monotonic() + 30
        # a new connection per request: a kept-alive one would stay with one worker
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=fresh) as client, ThreadPoolExecutor(8) as pool:
            # sync workers answer one request at a time: 8 at once spread over both
            while len(pids) < 2 or sent < REQUESTS:
                assert time.monotonic() < deadline, f"one worker served every request: {pids}"
                pids.update(
                    pool.map(
                        lambda _: client.get(url, headers={"soajsinjectobj": header}).text,
                        range(8),
                    )
                )
                sent += 8

        def summed() -> dict[Any, float]:
            answer = httpx.get(metrics_url, timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/plain")
            return samples(answer.text)

        ok = ("soajs_context_headers_total", (("outcome", "accepted"), ("reason", "ok")))
        # the probe (_up) requests carry no header: only the REQUESTS count
        assert wait_until(lambda: summed().get(ok) == sent, timeout=10), (summed().get(ok), sent)
        found = summed()
        assert found[("soajs_metrics_processes", ())] == 2
        hits = found[("soajs_context_cache_hits_total", (("reason", "ok"),))]
        assert hits == sent - 2  # each worker parsed the header once
        assert found[("soajs_registry_ready", (("service", "hello"),))] == 2

        # a worker goes (the server starts another): its counts stay in the sum
        os.kill(int(sorted(pids)[0]), signal.SIGTERM)

        def after_exit() -> bool:
            try:
                return summed().get(ok) == sent
            except (httpx.HTTPError, AssertionError):
                return False  # the maintenance port moves to the other worker

        time.sleep(1.0)
        assert wait_until(after_exit, timeout=20), summed().get(ok)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
