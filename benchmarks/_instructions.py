"""Instruction-count mode of ``bench_middleware`` (``--instructions``): robust to load.

Wall and CPU time on a shared machine move by tens of percent with the other
jobs; instructions do not. Each app of :mod:`benchmarks._apps` gets requests
fed through uvicorn's own HTTP protocol (httptools, the parser the end-to-end
mode uses) into the real ASGI app, with a transport that drops the responses:
everything a server does per request but the socket system calls, which are
the same for every app. ``valgrind --tool=callgrind`` counts the instructions
of two runs that differ only in the number of measured requests (after the
same warm-up: 1,500 requests, enough to fill the context cache as a server
under that traffic has it); their difference divided by the extra requests is
the cost of one request, start-up and warm-up cancelled out.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 1500
#: the two runs: measured requests after the warm-up
SHORT, LONG = 100, 1100


class _Transport(asyncio.Transport):
    """Drops what the server writes; says the peer is a local gateway."""

    def write(self, data: Any) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def close(self) -> None:
        return None


def requests(header: bytes, count: int, new: bool) -> list[bytes]:
    from benchmarks._e2e import NONCE

    at = header.index(NONCE)
    head = b"GET / HTTP/1.1\r\nHost: bench\r\nsoajsinjectobj: "
    out = []
    for n in range(count):
        value = header
        if new:
            value = b"%sbench/%010d%s" % (header[:at], n, header[at + len(NONCE) :])
        out.append(head + value + b"\r\n\r\n")
    return out


async def _drive(app: Any, batch: list[bytes]) -> None:
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    config = Config(app=app, http="httptools", lifespan="off", access_log=False)
    config.load()
    protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(_Transport())
    for request in batch:
        protocol.data_received(request)
        while protocol.cycle is None or not protocol.cycle.response_complete:
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # the app's task ends


def child(which: str, mode: str, count: int) -> None:
    """The process valgrind runs: ``WARM_UP + count`` requests into app ``which``."""
    import uvloop

    from benchmarks import _apps
    from benchmarks._headers import gateway_header

    batch = requests(gateway_header(2048, "spread"), WARM_UP + count, mode == "new")
    uvloop.run(_drive(getattr(_apps, which), batch))


def _count(which: str, mode: str, count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        code = (
            "import sys; from benchmarks._instructions import child; "
            "child(sys.argv[1], sys.argv[2], int(sys.argv[3]))"
        )
        env = dict(os.environ, SOAJS_TRUSTED_GATEWAYS="*", PYTHONHASHSEED="0")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             "-c", code, which, mode, str(count)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"callgrind gave no count: {done.stderr[-500:]}")
        return int(found.group(1))


def per_request(which: str, mode: str) -> float:
    """Instructions of one request into app ``which`` (``new`` or ``same`` header)."""
    return (_count(which, mode, LONG) - _count(which, mode, SHORT)) / (LONG - SHORT)


def instructions() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    runs = [("jsonloads", "new"), ("soajs", "new"), ("bare", "same"), ("soajs", "same")]
    got = {key: per_request(*key) for key in runs}
    print("\ninstructions per request (callgrind; uvicorn's httptools protocol and the real ASGI")
    print(f"  app, no sockets; {WARM_UP} warm-up requests, then {SHORT} vs {LONG}):")
    for (which, mode), n in got.items():
        print(f"    {which:10} {mode + ' header':12} {n:10,.0f}")
    new = got[("jsonloads", "new")] / got[("soajs", "new")]
    same = got[("bare", "same")] / got[("soajs", "same")]
    print(f"  new header each request: json.loads-only / soajs = {new:.3f} (goal >= 0.9)")
    print(f"  same header each request: bare / soajs = {same:.3f} (goal >= 0.95)")
