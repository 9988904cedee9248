"""End-to-end mode of ``bench_middleware``: real uvicorn, server CPU per request.

uvicorn runs in a child process (uvloop and httptools when installed: the dev
extra has them); a load generator in another process (the other core) keeps
a few keep-alive connections busy, with a **new header on every request**
(a counter written into ``device``, as a gateway sends for new users) or the
same header every time. What is measured is the server's CPU time (user +
system, from ``/proc/<pid>/stat``) divided by the requests it answered: wall
time would also measure the load generator and the other engineers' jobs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
#: the bytes the load generator replaces with a request counter
NONCE = b"bench/0000000000"


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
    env = dict(os.environ, SOAJS_TRUSTED_GATEWAYS="*", PYTHONPATH=path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"benchmarks._apps:{which}", "--port", str(port),
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
    head = b"GET / HTTP/1.1\r\nHost: bench\r\nsoajsinjectobj: "
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


def measure(which: str, header: bytes, seconds: float, new: bool) -> float:
    """Server CPU µs per request for app ``which`` under the load generator."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = serve(which, port)
    try:
        _generate(port, header, 0.5, new)  # warm up (imports, first requests)
        before = cpu_seconds(proc.pid)
        count = _generate(port, header, seconds, new)
        used = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(10)
    return used / max(count, 1) * 1e6


def _generate(port: int, header: bytes, seconds: float, new: bool) -> int:
    """Runs :func:`load` in a separate process (the load must not share our GIL)."""
    code = (
        "import sys; from benchmarks._e2e import load; "
        "print(load(int(sys.argv[1]), sys.stdin.buffer.read(), float(sys.argv[2]), 4, "
        "sys.argv[3] == 'new'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(port), str(seconds), "new" if new else "same"],
        input=header,
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return int(done.stdout)


def e2e(header: bytes, seconds: float, rounds: int) -> None:
    """Interleaved rounds; the median CPU per request of each app and mode."""
    runs = {
        ("jsonloads", True): [],
        ("soajs", True): [],
        ("bare", False): [],
        ("soajs", False): [],
    }  # type: dict[tuple[str, bool], list[float]]
    for _ in range(rounds):
        for which, new in runs:
            runs[(which, new)].append(measure(which, header, seconds, new))
    med = {key: sorted(v)[len(v) // 2] for key, v in runs.items()}
    opts = " ".join(fast_server_options()) or "(default loop and parser)"
    print(f"\nend to end: uvicorn {opts}, 4 keep-alive connections from another process,")
    print(f"  {len(header)}-byte header, {seconds:g}s x {rounds} interleaved rounds, median")
    print("  server CPU per request (user + system, /proc):")
    for (which, new), us in med.items():
        print(f"    {which:10} {'new header' if new else 'same header':12} {us:8.1f} us")
    new_ratio = med[("jsonloads", True)] / med[("soajs", True)]
    same_ratio = med[("bare", False)] / med[("soajs", False)]
    print(f"  new header each request: json.loads-only / soajs = {new_ratio:.3f} (goal >= 0.9)")
    print(f"  same header each request: bare / soajs = {same_ratio:.3f} (goal >= 0.95)")
