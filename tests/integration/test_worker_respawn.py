"""A worker replaced during a control-plane outage starts degraded; the server lives on.

Before: gunicorn ``-w 2`` (sync) and ``uvicorn --workers 2``, control plane
up, then resetting connections; one worker killed ``-9`` (as ``--timeout``,
the OOM killer or ``--max-requests`` do): the replacement failed its first
load (the fail-fast default), gunicorn logged "Worker failed to boot" and
exited (code 3), uvicorn "failed to start, stopping the parent process": the
whole service was down although the surviving worker had a good registry.

Now: the replacement finds the mark of a live sibling (same parent, same
service instance, :mod:`soajs.registry.siblings`), starts degraded with one
WARNING, answers, and loads once the control plane is back. A genuine first
start (no sibling anywhere) still fails fast (``test_lifespan_faults.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from soajs.registry.siblings import SiblingMarks
from tests.conftest import ROOT
from tests.integration.faulty_plane import FaultyPlane
from tests.support import free_port, wait_until

SERVERS = {
    "gunicorn-sync": lambda port: [
        sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
        "tests.integration.respawn_app:wsgi",
    ],
    "uvicorn-workers": lambda port: [
        sys.executable, "-m", "uvicorn", "tests.integration.respawn_app:asgi",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
    ],
    "gunicorn-uvicorn-worker": lambda port: [
        sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
        "-k", "uvicorn.workers.UvicornWorker", "tests.integration.respawn_app:asgi",
    ],
}  # fmt: skip


@contextmanager
def server(
    kind: str, env: dict[str, str], port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            SERVERS[kind](port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def states(port: int, tries: int = 12) -> dict[int, bool]:
    """``pid -> ready`` of the workers that answered ``tries`` fresh connections."""
    seen: dict[int, bool] = {}
    for _ in range(tries):
        try:
            answer = httpx.get(
                f"http://127.0.0.1:{port}/state", timeout=3, headers={"connection": "close"}
            )
        except httpx.HTTPError:
            continue
        if answer.status_code == 200:
            seen[answer.json()["pid"]] = answer.json()["ready"]
    return seen


@pytest.mark.parametrize("kind", list(SERVERS))
def test_a_worker_replaced_during_an_outage_starts_degraded_and_the_server_lives_on(
    kind: str, tmp_path: Path
) -> None:
    port = free_port()
    soajs_log = tmp_path / "soajs.log"
    with FaultyPlane("ok") as plane:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SOAJS_", "TEST_"))},
            "SOAJS_REGISTRY_API": plane.address,
            "SOAJS_ENV": "dev",
            "SOAJS_REGISTRY_TIMEOUT": "1",
            "SOAJS_RUNTIME_DIR": str(tmp_path / "run"),
            "TEST_SERVICE_PORT": str(port),
            "TEST_LOG": str(soajs_log),
        }
        with server(kind, env, port, tmp_path / "server.log") as proc:
            first: dict[int, bool] = {}
            assert wait_until(
                lambda: first.update(states(port)) or (len(first) == 2 and all(first.values())),
                timeout=40, step=0.2,
            ), (first, (tmp_path / "server.log").read_text())  # fmt: skip

            plane.mode = "reset"  # the control plane goes down
            victim, survivor = sorted(first)
            os.kill(victim, signal.SIGKILL)

            now: dict[int, bool] = {}
            replaced = wait_until(
                lambda: now.update(states(port)) or any(p not in first for p in now),
                timeout=40, step=0.2,
            )  # fmt: skip
            text = (tmp_path / "server.log").read_text()
            assert proc.poll() is None, f"the server stopped (exit {proc.returncode}):\n{text}"
            assert replaced, (now, text)
            newcomer = next(p for p in now if p not in first)
            assert now[newcomer] is False  # degraded: no registry yet
            assert now.get(survivor, True) is True  # the survivor kept its registry
            # its readiness says so, its liveness does not
            warnings = [
                line
                for line in soajs_log.read_text().splitlines()
                if line.startswith(f"{newcomer} WARNING")
            ]
            assert len(warnings) == 1, warnings
            assert f"another worker of this server, pid {survivor}" in warnings[0]
            assert "/ready (readiness) answers 503" in warnings[0]

            plane.mode = "ok"  # back: the newcomer loads in the background
            later: dict[int, bool] = {}
            assert wait_until(
                lambda: later.update(states(port)) or later.get(newcomer) is True,
                timeout=30, step=0.3,
            ), later  # fmt: skip
            assert proc.poll() is None


def _marker_process(directory: Path, code: str) -> subprocess.Popen[str]:
    script = (
        "import sys, time; from pathlib import Path\n"
        "from soajs.registry.siblings import SiblingMarks\n"
        f"marks = SiblingMarks(Path({str(directory)!r}), 'dev-hello-4381')\n" + code
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )


def test_a_mark_counts_only_while_its_sibling_lives(tmp_path: Path) -> None:
    """Two real processes of one parent (this test): B sees A's mark while A runs,
    not once A is killed; the mark is 0600, holds no registry data, and the next
    process that marks removes the dead one's."""
    run = tmp_path / "run"
    holder = _marker_process(run, "marks.mark(); print('marked', flush=True); sys.stdin.read()")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "marked"
        mark = run / f"dev-hello-4381.{holder.pid}.loaded"
        assert mark.stat().st_mode & 0o777 == 0o600
        assert run.stat().st_mode & 0o777 == 0o700
        pid, ppid, _at, _start = mark.read_text().split()
        assert (int(pid), int(ppid)) == (holder.pid, os.getpid())

        ask = "print(marks.live_sibling(), flush=True)"
        seen = _marker_process(run, ask).communicate(timeout=20)[0].strip()
        assert seen == str(holder.pid)
        # another service instance (other port) is not a sibling
        other = SiblingMarks(run, "dev-hello-4382")
        assert other.live_sibling() is None
        # this process is the parent, not a sibling (different parent pid)
        assert SiblingMarks(run, "dev-hello-4381").live_sibling() is None
    finally:
        holder.kill()
        holder.communicate(timeout=10)  # reaps it and closes its pipes
    assert _marker_process(run, ask).communicate(timeout=20)[0].strip() == "None"
    assert mark.exists()  # kill -9 leaves it behind...
    _marker_process(run, "marks.mark()").communicate(timeout=20)
    assert not mark.exists()  # ...and the next process that marks removes it
