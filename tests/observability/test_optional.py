"""Without the extras, or with SOAJS_METRICS=0 / SOAJS_OTEL=0, the library works the same.

Each case runs in a fresh interpreter (the switches are read at import) that
cannot import ``prometheus_client`` / ``opentelemetry``, then serves a request
with a header through a real uvicorn and answers ``/metrics``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = r"""
import json, sys, threading, time
for name in sys.argv[1].split(","):
    if name:
        sys.modules[name] = None  # "not installed": importing it raises ImportError
import httpx, uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from soajs import current_context
from soajs.connector import ServiceConnector
from soajs.middleware import SOAJSMiddleware
from soajs.observability import families, install_logging, metrics_answer, tracing
from soajs.testing.headers import make_inject_header

install_logging()

async def whoami(request):
    return PlainTextResponse(current_context().tenant.code)

app = SOAJSMiddleware(Starlette(routes=[Route("/", whoami)]), trusted_gateways="*",
                      health=False, metrics_on_service_port=True)
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
thread = threading.Thread(target=server.run, daemon=True)
thread.start()
while not server.started:
    time.sleep(0.02)
port = server.servers[0].sockets[0].getsockname()[1]
answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"soajsinjectobj": make_inject_header()})
scrape = httpx.get(f"http://127.0.0.1:{port}/metrics")
fams = families.local()
labels = (("outcome", "accepted"), ("reason", "ok"))
ok = fams["soajs_context_headers"].samples.get(("_total", labels))
server.should_exit = True
thread.join(10)
print(json.dumps({"tenant": answer.text, "metrics_status": scrape.status_code,
                  "counted": ok, "tracing": tracing.AVAILABLE}))
"""


@pytest.mark.parametrize(
    ("blocked", "env", "expected"),
    [
        pytest.param("prometheus_client,opentelemetry", {}, (501, 1.0, False), id="no-extras"),
        pytest.param("", {"SOAJS_METRICS": "0", "SOAJS_OTEL": "0"}, (200, None, False), id="off"),
        pytest.param("", {}, (200, 1.0, True), id="extras"),
    ],
)
def test_the_library_works_with_or_without_the_extras(
    blocked: str, env: dict[str, str], expected: tuple[int, float | None, bool]
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, blocked],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout.strip().splitlines()[-1])
    assert facts["tenant"] != ""  # the request got its context
    assert (facts["metrics_status"], facts["counted"], facts["tracing"]) == expected
