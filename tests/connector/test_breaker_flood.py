"""Breakers and their log lines stay bounded when every request names a new target.

Red team (breaker_flood.py 300): an anonymous client naming a new closed
``host:port`` per request (mesh target and gateway) left 600 breakers and
301 WARNING lines after 300 requests, growing without bound. Now the breaker
registry keeps at most ``max_targets`` (1024 by default; closed, idle ones
are evicted first), and per-target WARNING lines across targets are limited
per interval, with one summary line per storm.

A real uvicorn worker in a child process, calling closed loopback ports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from soajs.connector.breaker import DEFAULT_MAX_TARGETS
from soajs.connector.storm import DEFAULT_BURST
from tests.conftest import ROOT
from tests.integration.servers import raw_get
from tests.support import free_port

REQUESTS = 1200  # 2,400 distinct targets: over the default bound of 1,024


def header(i: int) -> bytes:
    host = f"127.0.{1 + i // 200}.{1 + i % 200}"
    port = 20000 + i
    awareness = {
        "host": host,
        "port": port + 1,
        "interConnect": [
            {"name": "svc", "version": "1", "host": host, "port": port, "latest": "1"}
        ],
    }
    return json.dumps({"tenant": {"id": "t", "code": "c"}, "awareness": awareness}).encode()


def test_a_new_target_per_request_keeps_breakers_and_warnings_bounded(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAJS_")}
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.connector.apps.call_any:app",
             "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                raw_get(port, "/stats", [], timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        outcomes: dict[str, int] = {}
        for i in range(REQUESTS):
            answer = raw_get(port, "/call", [(b"soajsinjectobj", header(i))])
            out = str(json.loads(answer.body)["out"])
            outcomes[out] = outcomes.get(out, 0) + 1
        stats = json.loads(raw_get(port, "/stats", []).body)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    assert outcomes == {"ServiceUnavailableError": REQUESTS}
    assert stats["breakers"] <= DEFAULT_MAX_TARGETS
    warnings = [
        line
        for line in log.read_text().splitlines()
        if line.startswith("LOG soajs.connector WARNING")
    ]
    # the first lines per target, then one line saying a storm began (its summary
    # comes when the interval ends, at the next call after it)
    assert len(warnings) <= DEFAULT_BURST + 2, warnings[-5:]
    assert any("storm" in line for line in warnings)
