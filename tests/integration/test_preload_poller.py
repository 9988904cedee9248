"""``gunicorn --preload -w 2``: the registry poller runs in the workers, never in the master.

Before: the app (and its RegistryManager, autostarted) was imported in the
master, whose poller went on asking the control plane for a process that
serves no request, while the workers' pollers only started when the master
still had one. Now the master hands its poller to its workers
(:mod:`soajs.workers`): its worker thread ends, each worker polls for itself.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from soajs.controlplane import ControlPlaneServer
from tests.integration.test_preload import _children, gunicorn
from tests.support import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc"),
]

# A gunicorn hook that runs in the master: its thread names, a few seconds
# after the workers were forked (the poller's idle exit is 2 s).
MASTER_HOOK = """
import json, os, threading

def when_ready(server):
    def dump():
        names = [t.name for t in threading.enumerate()]
        with open(os.environ["PRELOAD_MASTER_THREADS"], "w") as out:
            json.dump({"pid": os.getpid(), "threads": names}, out)
    timer = threading.Timer(4.0, dump)
    timer.daemon = True
    timer.start()
"""


def _worker_threads(port: int, workers: int) -> dict[int, list[str]]:
    seen: dict[int, list[str]] = {}
    deadline = time.monotonic() + 15
    while len(seen) < workers and time.monotonic() < deadline:
        # a new connection each time, so both workers get asked
        answer = httpx.get(f"http://127.0.0.1:{port}/threads", timeout=5).json()
        seen[answer["pid"]] = answer["threads"]
    return seen


def test_preload_master_polls_no_more(
    tmp_path: Path, control_plane: ControlPlaneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook, dump = tmp_path / "hook.py", tmp_path / "master.json"
    hook.write_text(MASTER_HOOK)
    monkeypatch.setenv("PRELOAD_MASTER_THREADS", str(dump))
    app = "tests.integration.fault_apps:wsgi"
    with gunicorn(app, control_plane, tmp_path, "-c", str(hook)) as (proc, service, _, log):
        assert wait_until(lambda: len(_children(proc.pid)) == 2, timeout=30)
        assert wait_until(dump.exists, timeout=30), (tmp_path / "stderr").read_text()[-3000:]
        master = json.loads(dump.read_text())
        assert master["pid"] == proc.pid
        pollers = [n for n in master["threads"] if n.startswith("soajs-")]
        assert pollers == [], master  # serves nothing: no poller, no listener

        workers = _worker_threads(service, 2)
        assert set(workers) == set(_children(proc.pid)), workers
        for pid, names in workers.items():
            assert any(n.startswith("soajs-registry") for n in names), (pid, names)

        # the workers keep polling (autoReloadRegistry is 1 s here); the master does not
        before = control_plane.store.calls["/getRegistry"]
        assert wait_until(lambda: control_plane.store.calls["/getRegistry"] >= before + 4, 10)
        assert f"{proc.pid} INFO soajs.workers: process {proc.pid} forks before serving" in (
            log.read_text()
        )
