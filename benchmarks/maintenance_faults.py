"""Issue 11 (maintenance plane) figures, for any checkout of the library: before and after.

    python benchmarks/maintenance_faults.py                 # this checkout's src/
    git archive b62e70b src | tar -x -C /tmp/before         # the code before issue 11
    python benchmarks/maintenance_faults.py /tmp/before/src

Each fault runs against real servers in child processes whose PYTHONPATH is
the given src directory (the test apps come from this checkout):

- the maintenance listener alone: 200 slowloris clients (one byte a second,
  4 s), 1000 client resets (SO_LINGER 0), 60 connects at once;
- uvicorn with a handler blocking the event loop 5 s: the maintenance probes;
- gunicorn --preload -w 2 with both workers SIGSTOPped: the maintenance probe;
- uvicorn with the control plane down at start: exit code, what it said.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(port: int, path: str = "/heartbeat", timeout: float = 3.0) -> str:
    started = time.monotonic()
    try:
        status = str(httpx.get(f"http://127.0.0.1:{port}{path}", timeout=timeout).status_code)
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return f"{status} in {time.monotonic() - started:.3f}s"


def env_for(src: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))}
    return {**env, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}", **extra}


def listener(src: str, workdir: Path) -> None:
    def child() -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        code = (
            "import sys; from soajs.middleware import HealthEndpoints, MaintenanceListener; "
            f"l = MaintenanceListener(HealthEndpoints(), {port}, host='127.0.0.1'); l.start(); "
            "print('READY', flush=True); sys.stdin.read(); l.stop()"
        )
        err = (workdir / f"stderr-{port}").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=env_for(src), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"READY"
        return proc, port

    def end(proc: subprocess.Popen[bytes], port: int) -> bytes:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(60)
        return (workdir / f"stderr-{port}").read_bytes()

    def counts(pid: int) -> tuple[int, int]:
        return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))

    proc, port = child()
    threads0, fds0 = counts(proc.pid)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    most = (0, 0)
    probes = []
    for _ in range(4):
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.send(b"G")
        probes.append(probe(port))
        now = counts(proc.pid)
        most = (max(most[0], now[0]), max(most[1], now[1]))
        time.sleep(1)
    for sock in clients:
        sock.close()
    end(proc, port)
    print(f"slowloris (200 clients, 1 byte/s, 4 s): threads {threads0}->{most[0]}, "
          f"fds {fds0}->{most[1]}, probes meanwhile: {probes}")  # fmt: skip

    proc, port = child()
    for i in range(1000):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if i % 3 == 1:
            sock.send(b"GET /heart")
        elif i % 3 == 2:
            sock.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
    time.sleep(1)
    stderr = end(proc, port)
    print(f"1000 client resets: stderr {len(stderr)} bytes, "
          f"{stderr.count(b'Traceback')} tracebacks")  # fmt: skip

    proc, port = child()
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    answers: dict[socket.socket, bytes] = {}
    for _ in range(60):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE)
        answers[sock] = b""
    pending = set(answers)
    while pending and time.monotonic() < started + 60:
        for key, events in selector.select(0.5):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            if events & selectors.EVENT_WRITE:
                conn.send(b"GET /heartbeat HTTP/1.1\r\nHost: x\r\n\r\n")
                selector.modify(conn, selectors.EVENT_READ)
                continue
            chunk = conn.recv(4096)
            answers[conn] += chunk
            if not chunk:
                selector.unregister(conn)
                pending.discard(conn)
    took = time.monotonic() - started
    for sock in answers:
        sock.close()
    ok = sum(b" 200 " in a[:20] for a in answers.values())
    end(proc, port)
    print(f"60 connects at once: {ok}/60 answered 200 in {took:.2f}s")


@contextlib.contextmanager
def control_plane(src: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "soajs", "--log-level", "WARNING", "control-plane",
         "--registry", str(ROOT / "examples" / "registry.json"), "--port", str(port)],
        env=env_for(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while probe(port).split()[0] != "200" and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


def service_env(src: str, plane: str, service: int, maintenance: int) -> dict[str, str]:
    return env_for(
        src,
        SOAJS_ENV="dev",
        SOAJS_REGISTRY_API=plane,
        TEST_SERVICE_PORT=str(service),
        TEST_MAINTENANCE_PORT=str(maintenance),
    )


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while probe(port, timeout=1).split()[0] != "200" and time.monotonic() < deadline:
        time.sleep(0.1)


def blocked_loop(src: str, workdir: Path) -> None:
    service, maintenance = free_port(), free_port()
    with control_plane(src, workdir) as plane:
        env = service_env(src, plane, service, maintenance)
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.fault_apps:asgi",
             "--port", str(service), "--log-level", "error"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(maintenance)
            blocker = threading.Thread(
                target=probe, args=(service, "/block?seconds=5", 10), daemon=True
            )
            blocker.start()
            time.sleep(0.5)
            print(f"event loop blocked 5 s: maintenance /heartbeat {probe(maintenance)}, "
                  f"/ready {probe(maintenance, '/ready')}, "
                  f"service /heartbeat {probe(service, timeout=1)}")  # fmt: skip
            blocker.join(10)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(20)


def preload(src: str, workdir: Path) -> None:
    service, maintenance = free_port(), free_port()
    with control_plane(src, workdir) as plane:
        env = service_env(src, plane, service, maintenance)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b",
             f"127.0.0.1:{service}", "tests.integration.fault_apps:wsgi"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(maintenance)
            time.sleep(1)
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for pid in children:
                os.kill(int(pid), signal.SIGSTOP)
            heartbeat, ready = probe(maintenance, timeout=2), probe(maintenance, "/ready", 2)
            print(f"gunicorn --preload -w 2, both workers SIGSTOPped: maintenance /heartbeat "
                  f"{heartbeat}, /ready {ready}")  # fmt: skip
            for pid in children:
                os.kill(int(pid), signal.SIGCONT)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def control_plane_down(src: str, workdir: Path) -> None:
    service, maintenance = free_port(), free_port()
    env = env_for(src, SOAJS_ENV="dev", SOAJS_REGISTRY_API=f"127.0.0.1:{free_port()}",
                  SOAJS_REGISTRY_TIMEOUT="1", TEST_SERVICE_PORT=str(service),
                  TEST_MAINTENANCE_PORT=str(maintenance))  # fmt: skip
    stderr = workdir / "uvicorn-stderr"
    started = time.monotonic()
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.integration.fault_apps:asgi",
             "--port", str(service)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    code: int | str = "still serving after 8 s"
    while time.monotonic() - started < 8:
        if proc.poll() is not None:
            code = proc.returncode
            break
        time.sleep(0.05)
    took = time.monotonic() - started
    heartbeat, ready = probe(service, timeout=1), probe(service, "/ready", 1)
    answers = f"service /heartbeat {heartbeat}, /ready {ready}"
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    print(f"control plane down at start: exit {code} ({took:.1f}s); "
          f"{answers}; stderr said:")  # fmt: skip
    for line in stderr.read_text().splitlines()[:8]:
        print("    " + line[:200])


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "src")
    print(f"library from {src}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        listener(src, workdir)
        blocked_loop(src, workdir)
        preload(src, workdir)
        control_plane_down(src, workdir)


if __name__ == "__main__":
    main()
