"""End-to-end mode of ``bench_middleware``: real uvicorn, server CPU per request.

uvicorn runs in a child process (uvloop and httptools when installed: the dev
extra has them), pinned to the first core when ``taskset`` exists; a load
generator on the other core keeps keep-alive connections busy, with a **new
header on every request** (a counter written into ``device``, as a gateway
sends for new users) or the same header every time. The load generator is
``wrk`` when it is installed (``apt-get install wrk``; a Lua script makes the
headers), else a Python one in another process. Each request carries the
headers a gateway forwards (:data:`GATEWAY_HEADERS`) besides ``soajsinjectobj``.

What is measured is the server's CPU time (user + system, from
``/proc/<pid>/stat``) divided by the requests it answered: wall time would also
measure the load generator and the other jobs on the machine. Rounds are
interleaved (each runs every app once, in alternating order), and the ratios
are the medians of per-round ratios, printed with their range: on a shared
machine a round is noisy, the median of many much less so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
#: the bytes the load generator replaces with a request counter
NONCE = b"bench/0000000000"
#: what a gateway forwards with the header (soajs.controller passes the client's own)
GATEWAY_HEADERS = (
    b"Host: bench\r\n"
    b"user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"accept: application/json, text/plain, */*\r\n"
    b"accept-language: en-US,en;q=0.5\r\n"
    b"accept-encoding: gzip, deflate\r\n"
    b"content-type: application/json\r\n"
    b"key: 9b96ba56ce934ded56c3f21ac9bdaddc8ba4782b7753cf07576bfabcace8632eba1749ff1\r\n"
    b"x-request-id: 4f6c2a9e-0d1b-4c8e-9f3a-2b7d5e1c0a94\r\n"
    b"origin: http://localhost:4000\r\n"
    b"connection: keep-alive\r\n"
)
_CPU = ["taskset", "-c"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def fast_server_options() -> list[str]:
    options = []
    for module, flag in (("uvloop", "--loop=uvloop"), ("httptools", "--http=httptools")):
        try:
            __import__(module)
            options.append(flag)
        except ImportError:
            pass
    return options


def serve(which: str, port: int) -> subprocess.Popen[bytes]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    pin = [*_CPU, "0"] if _CPU else []
    proc = subprocess.Popen(
        [*pin, sys.executable, "-m", "uvicorn", f"benchmarks._apps:{which}", "--port", str(port),
         "--log-level", "error", "--no-access-log", *fast_server_options()],
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("uvicorn did not start")


def load(port: int, header: bytes, seconds: float, connections: int, new: bool) -> int:
    """Requests answered in ``seconds`` (run in the load generator's own process)."""
    head = b"GET / HTTP/1.1\r\n" + GATEWAY_HEADERS + b"soajsinjectobj: "
    at = header.index(NONCE) if new else -1
    counts = [0] * connections
    refused: list[int] = []
    stop = time.monotonic() + seconds

    def worker(slot: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            n = slot * 1_000_000_000 // connections
            while time.monotonic() < stop:
                value = header
                if at >= 0:
                    n += 1
                    value = b"%sbench/%010d%s" % (header[:at], n, header[at + len(NONCE) :])
                sock.sendall(head + value + b"\r\n\r\n")
                data = b""
                while not data.endswith((b"ok", b"no")):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if data.endswith(b"no"):
                    refused.append(slot)
                    return
                counts[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if refused:
        raise SystemExit("the middleware built no context: nothing to measure")
    return sum(counts)


#: wrk's request generator: the gateway's headers, and a counter in the nonce
_LUA = r"""
local f = io.open(os.getenv("SOAJS_BENCH_HEADER"), "rb")
local header = f:read("*a")
f:close()
local nonce = "bench/0000000000"
local at = string.find(header, nonce, 1, true)
local prefix, suffix = string.sub(header, 1, at - 1), string.sub(header, at + #nonce)
local new = os.getenv("SOAJS_BENCH_NEW") == "1"
local counter = 0
local extra = {}
for line in string.gmatch(os.getenv("SOAJS_BENCH_HEADERS"), "[^\r\n]+") do
  local name, value = string.match(line, "^([^:]+): (.*)$")
  if name ~= "Host" then extra[name] = value end
end
request = function()
  local h = header
  if new then
    counter = counter + 1
    h = prefix .. string.format("bench/%010d", counter) .. suffix
  end
  extra["soajsinjectobj"] = h
  return wrk.format("GET", "/", extra)
end
response = function(status, headers, body)
  if body ~= "ok" then error("the middleware built no context: nothing to measure") end
end
"""


def _wrk(port: int, header: bytes, seconds: float, new: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script, data = Path(tmp) / "soajs.lua", Path(tmp) / "header"
        script.write_text(_LUA)
        data.write_bytes(header)
        env = dict(
            os.environ,
            SOAJS_BENCH_HEADER=str(data),
            SOAJS_BENCH_NEW="1" if new else "0",
            SOAJS_BENCH_HEADERS=GATEWAY_HEADERS.decode(),
        )
        pin = [*_CPU, "1"] if _CPU else []
        done = subprocess.run(
            [*pin, "wrk", "-t1", "-c8", f"-d{seconds:g}s", "-s", str(script),
             f"http://127.0.0.1:{port}/"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    if "Non-2xx" in done.stdout or "error" in done.stderr:
        raise SystemExit(f"wrk: {done.stdout[-300:]} {done.stderr[-300:]}")
    for line in done.stdout.splitlines():
        if "requests in" in line:
            return int(line.split()[0])
    raise SystemExit(f"wrk gave no count: {done.stdout[-300:]}")


def _generate(port: int, header: bytes, seconds: float, new: bool) -> int:
    """Requests answered in ``seconds``: wrk, else :func:`load` in another process (the
    load must not share our GIL)."""
    if shutil.which("wrk"):
        return _wrk(port, header, seconds, new)
    code = (
        "import sys; from benchmarks._e2e import load; "
        "print(load(int(sys.argv[1]), sys.stdin.buffer.read(), float(sys.argv[2]), 4, "
        "sys.argv[3] == 'new'))"
    )
    pin = [*_CPU, "1"] if _CPU else []
    done = subprocess.run(
        [*pin, sys.executable, "-c", code, str(port), str(seconds), "new" if new else "same"],
        input=header,
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return int(done.stdout)


#: (app, new header on every request): the apps of :mod:`benchmarks._apps`
RUNS = (
    ("jsonloads", True),
    ("soajs", True),
    ("bare", False),
    ("soajs", False),
    ("soajs_listed", False),
)


def e2e(header: bytes, seconds: float, rounds: int) -> None:
    """Every app of :data:`RUNS` served at once, measured in interleaved rounds."""
    servers = {}
    try:
        for which in {which for which, _ in RUNS}:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            servers[which] = (serve(which, port), port)
        for which, new in RUNS:  # warm up (imports, first requests, a full cache)
            _generate(servers[which][1], header, 1.0, new)
        runs: dict[tuple[str, bool], list[float]] = {key: [] for key in RUNS}
        for n in range(rounds):
            for which, new in RUNS if n % 2 == 0 else RUNS[::-1]:
                proc, port = servers[which]
                before = cpu_seconds(proc.pid)
                count = _generate(port, header, seconds, new)
                runs[(which, new)].append((cpu_seconds(proc.pid) - before) / max(count, 1) * 1e6)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    _report(header, seconds, rounds, runs)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _report(
    header: bytes, seconds: float, rounds: int, runs: dict[tuple[str, bool], list[float]]
) -> None:
    opts = " ".join(fast_server_options()) or "(default loop and parser)"
    generator = "wrk -t1 -c8" if shutil.which("wrk") else "a Python load generator (4 connections)"
    print(f"\nend to end: uvicorn {opts}, {generator} on the other core,")
    extra = GATEWAY_HEADERS.count(b"\n")
    print(f"  {len(header)}-byte header and {extra} gateway headers, "
          f"{seconds:g}s x {rounds} interleaved rounds;")  # fmt: skip
    print("  server CPU per request (user + system, /proc), median of rounds:")
    for (which, new), values in runs.items():
        mode = "new header" if new else "same header"
        print(f"    {which:13} {mode:12} {_median(values):8.1f} us")

    def ratio(base: tuple[str, bool], ours: tuple[str, bool], goal: float, what: str) -> None:
        per_round = sorted(b / o for b, o in zip(runs[base], runs[ours], strict=True))
        print(f"  {what}: {base[0]} / {ours[0]} = {_median(per_round):.3f} (goal >= {goal}; "
              f"rounds {per_round[0]:.2f}..{per_round[-1]:.2f})")  # fmt: skip

    ratio(("jsonloads", True), ("soajs", True), 0.9, "new header each request")
    ratio(("bare", False), ("soajs", False), 0.95, "same header each request")
    ratio(("bare", False), ("soajs_listed", False), 0.95, "same header, listed gateway")
