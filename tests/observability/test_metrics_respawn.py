"""``gunicorn -w 2 --max-requests 7``: workers are replaced again and again while
requests flow and ``/metrics`` is scraped; the summed count never goes down and ends
equal to the requests sent (a replaced worker's counts are kept, never counted twice),
and the files of an earlier run of another service in the directory change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from soajs.controlplane import ControlPlaneServer
from soajs.testing.headers import make_inject_header
from tests.conftest import ROOT
from tests.observability.test_metrics_workers import _up, samples
from tests.support import free_port, wait_until

OK = ("soajs_context_headers_total", (("outcome", "accepted"), ("reason", "ok")))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn needs fork")
def test_respawned_workers_never_make_the_sum_go_down(
    control_plane: ControlPlaneServer, tmp_path: Path
) -> None:
    port, maintenance = free_port(), free_port()
    run = tmp_path / "run"
    (run / "metrics").mkdir(parents=True, mode=0o700)
    stale = run / "metrics" / f"dev-hello-{port}.{2**22 + 3}.{2**22 + 4}.json"
    stale.write_text('{"families": {"soajs_context_headers": [["_total", '
                     '[["outcome", "accepted"], ["reason", "ok"]], 1000]]}}')  # fmt: skip
    env = dict(
        os.environ,
        SOAJS_ENV="dev",
        SOAJS_REGISTRY_API=control_plane.address,
        SOAJS_RUNTIME_DIR=str(run),
        SOAJS_METRICS_PUBLISH_INTERVAL="0.5",
        TEST_SERVICE_PORT=str(port),
        TEST_MAINTENANCE_PORT=str(maintenance),
    )
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "--max-requests", "7",
               "--graceful-timeout", "5", "tests.observability.metrics_app:application",
               "-b", f"127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    header = make_inject_header()
    try:
        assert wait_until(lambda: _up(url), timeout=30), "gunicorn did not answer"
        seen: list[float] = []
        pids: set[str] = set()
        sent = 0
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=fresh) as client:
            for _ in range(60):
                answer = client.get(url, headers={"soajsinjectobj": header})
                if answer.status_code == 200:
                    sent += 1
                    pids.add(answer.text)
                try:
                    scrape = client.get(f"http://127.0.0.1:{maintenance}/metrics")
                except httpx.HTTPError:
                    continue  # the maintenance port moves to another worker
                if scrape.status_code == 200:
                    seen.append(samples(scrape.text).get(OK, 0.0))
        assert len(pids) >= 4, pids  # workers were replaced
        assert seen == sorted(seen), seen  # never down
        assert all(value <= sent for value in seen), (seen, sent)  # never counted twice

        def final() -> bool:
            try:
                answer = httpx.get(f"http://127.0.0.1:{maintenance}/metrics", timeout=5)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and samples(answer.text).get(OK) == sent

        assert wait_until(final, timeout=20), (seen[-5:], sent)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
