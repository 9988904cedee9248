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
the cost of one request, start-up and warm-up cancelled out. Each request
carries the headers a gateway forwards (:data:`benchmarks._e2e.GATEWAY_HEADERS`).

Instructions alone flatter code that executes few of them but touches much
memory: on a real server the network stack evicts the app's data and code
between requests, and a first-level cache miss costs about ten instructions'
time. So callgrind also simulates the caches, and the ratios are printed both
in instructions and in KCachegrind's cycle estimate (instructions + 10 per
first-level miss + 100 per last-level miss), the closer of the two to CPU time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
    from benchmarks._e2e import GATEWAY_HEADERS, NONCE

    at = header.index(NONCE)
    head = b"GET / HTTP/1.1\r\n" + GATEWAY_HEADERS + b"soajsinjectobj: "
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


#: callgrind's events with --cache-sim=yes, in the order of its "Collected" line
EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


def _count(which: str, mode: str, count: int) -> list[int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        code = (
            "import sys; from benchmarks._instructions import child; "
            "child(sys.argv[1], sys.argv[2], int(sys.argv[3]))"
        )
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--callgrind-out-file={out}",
             sys.executable,
             "-c", code, which, mode, str(count)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        found = re.search(r"Collected : ([\d ]+)", done.stderr)
        if found is None:
            raise SystemExit(f"callgrind gave no count: {done.stderr[-500:]}")
        return [int(n) for n in found.group(1).split()]


def per_request(which: str, mode: str) -> dict[str, float]:
    """callgrind's events for one request into app ``which`` (``new`` or ``same`` header),
    and KCachegrind's cycle estimate (``CEst``): instructions, plus 10 a first-level
    cache miss and 100 a last-level one."""
    long, short = _count(which, mode, LONG), _count(which, mode, SHORT)
    got = {e: (a - b) / (LONG - SHORT) for e, a, b in zip(EVENTS, long, short, strict=True)}
    l1 = got["I1mr"] + got["D1mr"] + got["D1mw"]
    got["L1m"] = l1
    got["CEst"] = got["Ir"] + 10 * l1 + 100 * (got["ILmr"] + got["DLmr"] + got["DLmw"])
    return got


RUNS = [
    ("jsonloads", "new"),
    ("soajs", "new"),
    ("bare", "same"),
    ("soajs", "same"),
    ("soajs_listed", "same"),
]


def instructions() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        got = dict(zip(RUNS, pool.map(lambda key: per_request(*key), RUNS), strict=True))
    print("\nper request (callgrind with its cache simulation; uvicorn's httptools protocol and")
    print(f"  the real ASGI app, no sockets; {WARM_UP} warm-up requests, then {SHORT} vs {LONG}):")
    print(f"    {'app':13} {'header':7} {'instructions':>12} {'L1 misses':>10} {'CEst':>10}")
    for (which, mode), n in got.items():
        print(f"    {which:13} {mode:7} {n['Ir']:12,.0f} {n['L1m']:10,.0f} {n['CEst']:10,.0f}")
    for what, base, ours, goal in (
        ("new header each request", ("jsonloads", "new"), ("soajs", "new"), 0.9),
        ("same header each request", ("bare", "same"), ("soajs", "same"), 0.95),
        ("same header, listed gateway", ("bare", "same"), ("soajs_listed", "same"), 0.95),
    ):
        ir = got[base]["Ir"] / got[ours]["Ir"]
        cest = got[base]["CEst"] / got[ours]["CEst"]
        print(f"  {what}: {base[0]} / {ours[0]} = {ir:.3f} in instructions, {cest:.3f} in "
              f"estimated cycles (goal >= {goal})")  # fmt: skip
