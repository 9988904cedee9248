"""Issue 12's connector findings, measured on real loopback peers: the figures of the closing note.

Reproduce with ``.venv/bin/python benchmarks/connector_faults.py`` (this
tree), or against another tree's sources to compare, e.g. before the fix::

    git archive b62e70b src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/connector_faults.py --src /tmp/before/src

Four measurements (the same fault servers as ``tests/connector``):

1. a peer trickling 100 bytes at 1 byte/s, connector defaults (the
   documented 10 s), one attempt: how long the call runs (given up at 25 s);
2. a 300 MB chunked answer, buffered with the defaults: the outcome and the
   process's peak RSS above its level before (``VmHWM`` after a reset);
3. a 307 to a server on 127.0.0.2 with ``follow_redirects=True``: which
   credential headers that server received, for a mesh and a gateway call;
4. gunicorn (1 sync worker) serving a Flask ``async def`` view (or, with
   ``--app django_async``, a Django async view) that makes one
   ``AsyncServiceConnector`` call: the worker's sockets and RSS before and
   after 300 requests (after 20 to warm up).

Prints JSON. Each figure stands alone (no ratio): compare two runs. The
imports are inside the functions so that ``--src`` decides which soajs runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("soajsinjectobj", "key", "access_token", "authorization", "cookie")


def trickle_seconds() -> dict[str, Any]:
    from tests.connector.conftest import awareness, make_context
    from tests.connector.loopback import Loopback, trickle

    from soajs.connector import RetryPolicy, ServiceConnector

    peer = Loopback("t", default=trickle(100, 1.0)).start()
    context = make_context(awareness(peer.address))
    result: dict[str, Any] = {}

    def call() -> None:
        start = time.monotonic()
        try:
            ServiceConnector(context, retry=RetryPolicy(attempts=1)).get("b", "/")
            result["outcome"] = "answered"
        except Exception as exc:
            result["outcome"] = f"{type(exc).__name__}: {str(exc)[-60:]}"
        result["seconds"] = round(time.monotonic() - start, 2)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(25)
    running = thread.is_alive()
    peer.stop()  # ends a call still running
    return {"outcome": "still running after 25 s"} if running else result


def huge_answer() -> dict[str, Any]:
    from tests.connector.conftest import awareness, make_context
    from tests.connector.loopback import Loopback, huge
    from tests.connector.twins import peak_rss_growth_mib

    from soajs.connector import RetryPolicy, ServiceConnector

    peer = Loopback("big", default=huge(300_000_000, chunked=True)).start()
    context = make_context(awareness(peer.address))
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            answer = ServiceConnector(context, retry=RetryPolicy(attempts=1)).get("b", "/")
            result["outcome"] = f"buffered {len(answer.content)} bytes"
        except Exception as exc:
            result["outcome"] = type(exc).__name__

    result["peak_rss_growth_mib"] = round(peak_rss_growth_mib(call), 1)
    peer.stop()
    return result


def redirect_target() -> dict[str, list[str]]:
    from tests.connector.conftest import awareness, make_context
    from tests.connector.loopback import Loopback, redirect

    from soajs.connector import ServiceConnector, inbound

    evil = Loopback("foreign", host="127.0.0.2").start()
    callee = Loopback("b", default=redirect(f"http://{evil.address}/x")).start()
    gateway = Loopback("gw", default=redirect(f"http://{evil.address}/x")).start()
    try:
        mesh = make_context(awareness(None, ("b", "1", callee.address, "1")))
        ServiceConnector(mesh).get("b", "/", version="1", follow_redirects=True)
        with inbound({"Authorization": "Bearer tok"}, query="access_token=tok"):
            ServiceConnector(make_context(awareness(gateway.address))).get(
                "b", "/", follow_redirects=True, headers={"Cookie": "sid=1"}
            )
        seen = [request.headers for request in evil.requests]
        return {
            "mesh": [name for name in SECRETS if name in seen[0]],
            "gateway": [name for name in SECRETS if name in seen[1]],
        }
    finally:
        for server in (evil, callee, gateway):
            server.stop()


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed while we looked
            count += os.readlink(fd).startswith("socket:")
    return count


def _rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    assert match
    return int(match.group(1)) // 1024


def gunicorn_sockets(src: str, app: str) -> dict[str, Any]:
    import httpx
    from tests.connector.loopback import Loopback
    from tests.support import free_port, wait_until

    callee = Loopback("b").start()
    port = free_port()
    env = {**os.environ, "SOAJS_TEST_CALLEE": callee.address, "PYTHONPATH": f"{src}:{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", f"tests.connector.apps.{app}:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            def up() -> bool:
                try:
                    return client.get("/call").status_code == 200
                except httpx.HTTPError:
                    return False

            assert wait_until(up, timeout=20, step=0.1), "gunicorn did not start"
            pid = int(client.get("/call").json()["pid"])
            for _ in range(20):
                client.get("/call")
            before = (_sockets(pid), _rss_mib(pid))
            for _ in range(300):
                client.get("/call")
            after = (_sockets(pid), _rss_mib(pid))
        return {"sockets": [before[0], after[0]], "rss_mib": [before[1], after[1]]}
    finally:
        proc.terminate()
        proc.wait(10)
        callee.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(ROOT / "src"), help="the soajs sources to measure")
    parser.add_argument(
        "--app", default="flask_async", choices=["flask_async", "django_async"],
        help="the app gunicorn serves (tests/connector/apps/)",
    )  # fmt: skip
    args = parser.parse_args()
    sys.path[:0] = [args.src, str(ROOT)]
    import soajs

    print(f"measuring {Path(soajs.__file__).parent}", file=sys.stderr)
    figures = {
        "trickle_100_bytes_at_1_per_s": trickle_seconds(),
        "answer_300_MB_chunked": huge_answer(),
        "redirect_target_received": redirect_target(),
        f"gunicorn_{args.app}_300_calls": gunicorn_sockets(args.src, args.app),
    }
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
